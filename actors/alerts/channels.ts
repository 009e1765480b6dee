/**
 * Where alert notifications go: a webhook (a JSON POST signed with HMAC-SHA256 through the
 * engine's {@link HttpSender}) or e-mail (through a {@link MailSender} the transports provide:
 * SMTP with STARTTLS). One call is one attempt; the monitor retries with backoff.
 * @module
 */

import { createHmac } from "node:crypto";
import type { AlertChannelConfig } from "../config/alerts.ts";
import type { HttpSender } from "../https_out/http_client.ts";
import { describeResponse } from "../https_out/http_client.ts";
import type { AlertNotification } from "../store/alerts.ts";

/** The header carrying `sha256=<hex>` of the HMAC-SHA256 of the body under the channel's key. */
export const SIGNATURE_HEADER = "x-engine-signature";

/** One e-mail to send over SMTP. */
export interface MailMessage {
  host: string;
  port: number;
  /** Require STARTTLS before authenticating or sending. */
  startTls: boolean;
  user?: string;
  password?: string;
  /** Extra CA bundle (PEM) to trust for the server's certificate. */
  ca?: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  /**
   * The deadline of the whole attempt (connect, greeting, EHLO, STARTTLS, AUTH, envelope and
   * message), not an idle timeout: a server sending a byte now and then does not extend it.
   */
  timeoutMs: number;
  /** Ends the attempt at once, closing its connection (the engine stopping, a backstop). */
  signal?: AbortSignal;
}

/** Sends e-mail (implemented in transports/smtp; injected by app/compose.ts). */
export interface MailSender {
  /**
   * Resolves once the server accepted the message; rejects with a reason otherwise, at the latest
   * at `timeoutMs` (saying so), or at once when `signal` aborts.
   */
  send(message: MailMessage): Promise<void>;
}

/** The JSON body of a webhook notification. */
export function notificationBody(n: AlertNotification): Record<string, unknown> {
  return {
    id: n.id,
    event: n.event,
    rule: n.rule,
    kind: n.kind,
    subject: n.subject,
    summary: n.summary,
    since: new Date(n.since).toISOString(),
    at: new Date(n.at).toISOString(),
    node: n.node,
  };
}

/** `sha256=<hex>` of `body` under `key`. */
export function signature(key: string, body: string): string {
  return `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;
}

/** What sending needs besides the channel. */
export interface ChannelDeps {
  http?: HttpSender;
  mail?: MailSender;
}

/**
 * Sends `n` once on `channel`; rejects with a reason the history shows. The senders bound the
 * whole attempt by the channel's `timeoutSeconds` themselves; `signal` ends it at once.
 */
export async function sendOnce(
  channel: AlertChannelConfig,
  n: AlertNotification,
  deps: ChannelDeps,
  signal?: AbortSignal,
): Promise<void> {
  if (channel.webhook) {
    const w = channel.webhook;
    if (!deps.http) throw new Error("no HTTP sender");
    const body = JSON.stringify(notificationBody(n));
    const response = await deps.http.send({
      url: w.url,
      method: "POST",
      headers: {
        "content-type": "application/json",
        [SIGNATURE_HEADER]: signature(w.secret.reveal(), body),
        "x-engine-event": n.event,
      },
      body,
      timeoutMs: w.timeoutSeconds * 1000,
      maxBodyBytes: 1024,
      ...(signal ? { signal } : {}),
    });
    if (response.status < 200 || response.status >= 300) {
      throw new Error(describeResponse(response, 120));
    }
    return;
  }
  const e = channel.email;
  if (!e) throw new Error(`channel ${channel.id} has no webhook or email`);
  if (!deps.mail) throw new Error("no mail sender");
  const tag = n.event === "resolved"
    ? "RESOLVED"
    : n.event === "reminder"
    ? "STILL FIRING"
    : "FIRING";
  await deps.mail.send({
    host: e.host,
    port: e.port,
    startTls: e.startTls,
    ...(e.user ? { user: e.user } : {}),
    ...(e.password ? { password: e.password.reveal() } : {}),
    ...(e.ca ? { ca: e.ca.reveal() } : {}),
    from: e.from,
    to: e.to,
    subject: `[${tag}] ${n.rule}: ${n.subject}`,
    text: [
      n.summary,
      "",
      `rule: ${n.rule} (${n.kind})`,
      `subject: ${n.subject}`,
      `since: ${new Date(n.since).toISOString()}`,
      `at: ${new Date(n.at).toISOString()}`,
      `node: ${n.node}`,
      `id: ${n.id}`,
    ].join("\n"),
    timeoutMs: e.timeoutSeconds * 1000,
    ...(signal ? { signal } : {}),
  });
}

/** Attempts allowed on a channel. */
export function attemptsOf(channel: AlertChannelConfig): number {
  return channel.webhook?.attempts ?? channel.email?.attempts ?? 1;
}

/** Backoff after `attempts` failed ones: 2 s doubling, at most 5 minutes. */
export function backoffMs(attempts: number): number {
  return Math.min(300_000, 2000 * 2 ** Math.max(0, attempts - 1));
}
