/**
 * E-mail over SMTP with `nodemailer`: STARTTLS required (unless a channel turns it off for a test
 * relay), the server's certificate checked against the system's CAs plus the channel's `ca`.
 *
 * Each send has one overall deadline, `timeoutMs`, for the whole session (connect, greeting,
 * EHLO, STARTTLS, AUTH, envelope, message): nodemailer's own timeouts are idle ones, which a
 * server sending a byte now and then never trips. At the deadline the connection is destroyed and
 * the send fails with an {@link SmtpDeadlineError} saying where the session stood. The caller's
 * `signal` ends a send at once the same way.
 * @module
 */

import net from "node:net";
// @ts-types="@types/nodemailer"
import nodemailer from "nodemailer";
import type { MailMessage, MailSender } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";
import { SmtpProgress } from "./progress.ts";

/** A send given up at its overall deadline; the message says where the session stood. */
export class SmtpDeadlineError extends Error {
  /** See the class doc. */
  constructor(message: string) {
    super(message);
    this.name = "SmtpDeadlineError";
  }
}

/** A send ended by the caller's signal (the engine stopping). */
export class SmtpAbortedError extends Error {
  /** See the class doc. */
  constructor(message: string) {
    super(message);
    this.name = "SmtpAbortedError";
  }
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

function aborted(signal: AbortSignal): SmtpAbortedError {
  const why = signal.reason === undefined ? "" : `: ${errorMessage(signal.reason)}`;
  return new SmtpAbortedError(`the SMTP send was aborted${why}`);
}

/** Sends each message on a connection of its own (alerts are rare; no pool to keep). */
export class NodemailerSender implements MailSender {
  /** Resolves once the server accepted the message; see the module doc for the deadline. */
  async send(m: MailMessage): Promise<void> {
    if (m.signal?.aborted) throw aborted(m.signal);
    // Our own socket (nodemailer connects it), so its byte count can describe a stalled session.
    const socket = new net.Socket();
    const progress = new SmtpProgress(socket);
    const control = new AbortController();
    let deadline: SmtpDeadlineError | undefined;
    const timer = setTimeout(() => {
      deadline = new SmtpDeadlineError(
        `the SMTP server ${m.host}:${m.port} did not finish within ${
          seconds(m.timeoutMs)
        } (${progress.describe()}); the connection was closed`,
      );
      control.abort(deadline);
      socket.destroy();
    }, m.timeoutMs);
    const onAbort = () => {
      control.abort(m.signal?.reason);
      socket.destroy();
    };
    m.signal?.addEventListener("abort", onAbort, { once: true });
    // Options the type package does not know yet (nodemailer 10): the socket, the close timeout.
    const options = {
      host: m.host,
      port: m.port,
      secure: false,
      requireTLS: m.startTls,
      ignoreTLS: !m.startTls,
      ...(m.user ? { auth: { user: m.user, pass: m.password ?? "" } } : {}),
      tls: { ...(m.ca ? { ca: m.ca } : {}), rejectUnauthorized: true },
      // nodemailer's idle timers, past the deadline: the reason is always the deadline's.
      connectionTimeout: m.timeoutMs + 1000,
      greetingTimeout: m.timeoutMs + 1000,
      socketTimeout: m.timeoutMs + 1000,
      socket,
      // Closing destroys the socket at once instead of waiting for the server's FIN.
      socketCloseTimeout: 0,
      // The transaction log goes to the progress tracker only (commands' verbs, replies' ends).
      debug: true,
      logger: progress.logger,
    };
    const transport = nodemailer.createTransport(options as nodemailer.TransportOptions);
    try {
      await transport.sendMail(
        {
          from: m.from,
          to: m.to,
          subject: m.subject,
          text: m.text,
          signal: control.signal,
        } as nodemailer.SendMailOptions,
      );
    } catch (error) {
      if (deadline) throw deadline;
      if (m.signal?.aborted) throw aborted(m.signal);
      throw error;
    } finally {
      clearTimeout(timer);
      m.signal?.removeEventListener("abort", onAbort);
      transport.close();
      socket.destroy();
    }
  }
}
