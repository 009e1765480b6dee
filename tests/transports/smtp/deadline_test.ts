/**
 * The SMTP sender's overall deadline against real sockets: a peer that trickles its replies one
 * byte at a time (so no idle timeout fires) is given up at `timeoutMs` with a reason naming the
 * deadline and where the session stood, and its connection is closed; the caller's signal ends a
 * hung send at once; a healthy `smtp-server` with STARTTLS still gets the message.
 */

import assert from "node:assert/strict";
import { NodemailerSender } from "../../../transports/smtp/mod.ts";
import type { MailMessage } from "../../../actors/ports.ts";
import { makePki } from "../../helpers/tls.ts";
import { startSmtp } from "../../actors/alerts/fixture.ts";
import { startTrickleSmtp } from "./trickle_smtp.ts";

function mail(port: number, timeoutMs: number, extra: Partial<MailMessage> = {}): MailMessage {
  return {
    host: "127.0.0.1",
    port,
    startTls: false,
    from: "engine@example.org",
    to: ["oncall@example.org"],
    subject: "[FIRING] test",
    text: "body",
    timeoutMs,
    ...extra,
  };
}

/** `promise`'s outcome, or a failure naming `what` once `ms` pass (a bound, not a wait). */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still not settled after ${ms} ms`)), ms);
  });
  promise.catch(() => {});
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The rejection of `promise` (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the send to fail");
}

Deno.test("SMTP server trickling its EHLO reply: the send fails at its overall deadline, naming it and EHLO, and the connection is closed", async () => {
  const peer = await startTrickleSmtp({ stage: "ehlo", intervalMs: 100 });
  try {
    const started = Date.now();
    const error = await within(
      5000,
      "the send to a trickling server",
      rejection(new NodemailerSender().send(mail(peer.port, 700))),
    );
    const elapsed = Date.now() - started;
    assert.match(error.message, /the SMTP server 127\.0\.0\.1:\d+ did not finish within 0\.7 s/);
    assert.match(error.message, /after EHLO it sent \d+ bytes? in [\d.]+ s, not a complete reply/);
    assert.ok(elapsed >= 650, `not before the deadline (${elapsed} ms)`);
    // Measured 704-736 ms, 720 ms beside two CPU hogs (1.7 s was under 3x that): 4 s leaves a
    // slow, busy machine its pauses; a sender without the deadline never ends (the 5 s bound).
    assert.ok(elapsed < 4000, `at the deadline, not much later (${elapsed} ms)`);
    await peer.until("the connection closed", () => peer.closed === 1, 2000);
    assert.equal(peer.connections, 1);
  } finally {
    await peer.close();
  }
});

Deno.test("SMTP server trickling its greeting: the send fails at its deadline, saying the greeting never completed", async () => {
  const peer = await startTrickleSmtp({ stage: "greeting", intervalMs: 100 });
  try {
    const error = await within(
      5000,
      "the send to a server trickling its greeting",
      rejection(new NodemailerSender().send(mail(peer.port, 600))),
    );
    assert.match(error.message, /did not finish within 0\.6 s/);
    assert.match(error.message, /greeting/);
    await peer.until("the connection closed", () => peer.closed === 1, 2000);
  } finally {
    await peer.close();
  }
});

Deno.test("SMTP send aborted by the caller's signal ends at once and closes the connection", async () => {
  const peer = await startTrickleSmtp({ stage: "ehlo", intervalMs: 100 });
  try {
    const control = new AbortController();
    const sending = rejection(
      new NodemailerSender().send(mail(peer.port, 60_000, { signal: control.signal })),
    );
    await peer.until("EHLO sent", () => /EHLO/.test(peer.received.join("")), 5000);
    const abortedAt = Date.now();
    control.abort(new Error("the alert monitor is stopping"));
    const error = await within(2000, "the aborted send", sending);
    assert.ok(Date.now() - abortedAt < 1000, "settled promptly after the abort");
    assert.match(error.message, /aborted/);
    await peer.until("the connection closed", () => peer.closed === 1, 2000);
  } finally {
    await peer.close();
  }
});

Deno.test("SMTP send with a signal already aborted opens no connection", async () => {
  const peer = await startTrickleSmtp({ stage: "ehlo" });
  try {
    const control = new AbortController();
    control.abort();
    const error = await within(
      3000,
      "the send with an aborted signal",
      rejection(new NodemailerSender().send(mail(peer.port, 60_000, { signal: control.signal }))),
    );
    assert.match(error.message, /aborted/);
    assert.equal(peer.connections, 0);
  } finally {
    await peer.close();
  }
});

Deno.test("SMTP send with its deadline still delivers to a healthy smtp-server over STARTTLS", async () => {
  const pki = await makePki();
  const smtp = await startSmtp(pki);
  try {
    await within(
      10_000,
      "the send to smtp-server",
      new NodemailerSender().send(
        mail(smtp.port, 10_000, { host: "localhost", startTls: true, ca: pki.caCert }),
      ),
    );
    assert.equal(smtp.mails.length, 1);
    assert.ok(smtp.mails[0]!.secure, "STARTTLS before the message");
    assert.match(smtp.mails[0]!.data, /Subject: \[FIRING\] test/);
  } finally {
    await smtp.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
