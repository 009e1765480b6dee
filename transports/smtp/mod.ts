/**
 * E-mail over SMTP with `nodemailer`: STARTTLS required (unless a channel turns it off for a test
 * relay), the server's certificate checked against the system's CAs plus the channel's `ca`.
 * @module
 */

// @ts-types="@types/nodemailer"
import nodemailer from "nodemailer";
import type { MailMessage, MailSender } from "../../actors/ports.ts";

/** Sends each message on a connection of its own (alerts are rare; no pool to keep). */
export class NodemailerSender implements MailSender {
  /** Resolves once the server accepted the message. */
  async send(m: MailMessage): Promise<void> {
    const transport = nodemailer.createTransport({
      host: m.host,
      port: m.port,
      secure: false,
      requireTLS: m.startTls,
      ignoreTLS: !m.startTls,
      ...(m.user ? { auth: { user: m.user, pass: m.password ?? "" } } : {}),
      tls: { ...(m.ca ? { ca: m.ca } : {}), rejectUnauthorized: true },
      connectionTimeout: m.timeoutMs,
      greetingTimeout: m.timeoutMs,
      socketTimeout: m.timeoutMs,
    });
    try {
      await transport.sendMail({ from: m.from, to: m.to, subject: m.subject, text: m.text });
    } finally {
      transport.close();
    }
  }
}
