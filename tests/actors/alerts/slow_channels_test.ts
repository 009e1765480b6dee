/**
 * The alert monitor against slow and hung channels, on real sockets: an SMTP peer that trickles
 * its EHLO reply one byte at a time (no idle timeout ever fires), a TCP peer that takes a webhook
 * request and never answers, a real webhook receiver and a plain `smtp-server`. Each attempt ends
 * at its channel's deadline with a reason; one hung channel holds neither the others nor the
 * evaluation; `stop()` returns at once with the hung delivery still pending in KV.
 */

import assert from "node:assert/strict";
import net from "node:net";
// @ts-types="@types/smtp-server"
import { SMTPServer } from "smtp-server";
import { AlertMonitor } from "../../../actors/alerts/monitor.ts";
import { engineInputs } from "../../../actors/alerts/inputs.ts";
import type { MailSender } from "../../../actors/ports.ts";
import type { Config } from "../../../actors/config/mod.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/store.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { NodemailerSender } from "../../../transports/smtp/mod.ts";
import { waitFor } from "../../helpers/net.ts";
import { startTrickleSmtp } from "../../transports/smtp/trickle_smtp.ts";
import { alertConfig, startHookReceiver } from "./fixture.ts";

const enc = new TextEncoder();

async function failLog(store: Store, text: string): Promise<void> {
  const r = await store.accept({
    queue: "sftp:any",
    origin: { kind: "integration", id: "any" },
    payload: enc.encode(text),
    contentType: "text/plain",
    log: { type: "RECEIVE", integrationId: "any" },
  });
  assert.equal(r.status, "stored");
  if (r.status === "stored") await store.updateLog(r.logId, { status: "FAILED", reason: "bad" });
}

/** `promise`'s outcome, or a failure naming `what` once `ms` pass (a bound, not a wait). */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms);
  });
  promise.catch(() => {});
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const mailChannel = (id: string, port: number, timeoutSeconds: number, attempts = 5) => ({
  id,
  email: {
    host: "127.0.0.1",
    port,
    startTls: false,
    from: "engine@example.org",
    to: ["oncall@example.org"],
    timeoutSeconds,
    attempts,
  },
});

const hookChannel = (id: string, url: string, timeoutSeconds = 5) => ({
  id,
  webhook: { url, secret: { env: "HOOK_SECRET" }, timeoutSeconds },
});

const failures = (id: string, threshold = 1) => ({
  id,
  kind: "failed-logs",
  threshold,
  windowSeconds: 3600,
});

interface Rig {
  clock: ManualClock;
  log: ReturnType<typeof memoryLogger>;
  open(config: Config, mail?: MailSender): Promise<{ store: Store; monitor: AlertMonitor }>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const clock = new ManualClock();
  const dir = await Deno.makeTempDir({ prefix: "alerts-slow-" });
  const http = new FetchSender();
  const log = memoryLogger();
  const stores: Store[] = [];
  const monitors: AlertMonitor[] = [];
  return {
    clock,
    log,
    async open(config, mail = new NodemailerSender()) {
      const store = await Store.open({ path: `${dir}/kv`, node: "n1", now: () => clock.now() });
      stores.push(store);
      const monitor = new AlertMonitor({
        store,
        inputs: engineInputs({ store, actors: () => Promise.resolve([]), config: () => config }),
        config: () => config.alerts,
        deps: { http, mail },
        clock,
        log,
        attemptGraceMs: 300,
      });
      monitors.push(monitor);
      return { store, monitor };
    },
    async close() {
      try {
        for (const m of monitors) await m.stop();
      } finally {
        for (const s of stores) s.close();
        http.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

/** A plain SMTP relay (no STARTTLS) counting the messages it accepted. */
async function startPlainSmtp(): Promise<
  { port: number; mails: string[]; close(): Promise<void> }
> {
  const mails: string[] = [];
  const server = new SMTPServer({
    hideSTARTTLS: true,
    authOptional: true,
    logger: false,
    onData(stream, _session, callback) {
      let data = "";
      stream.on("data", (c: Uint8Array) => (data += new TextDecoder().decode(c)));
      stream.on("end", () => {
        mails.push(data);
        callback();
      });
    },
  });
  server.on("error", () => {});
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.server.address() as net.AddressInfo).port))
  );
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A TCP peer that reads whatever comes and never answers (a hung webhook receiver). */
async function startSilentPeer(): Promise<
  { url: string; open: () => number; close(): Promise<void> }
> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("data", () => {});
    s.once("close", () => sockets.delete(s));
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
  );
  return {
    url: `http://127.0.0.1:${port}/hook`,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

Deno.test("SMTP server trickling its EHLO reply: each attempt fails at timeoutSeconds with the reason, logged, then retried and given up", async () => {
  const peer = await startTrickleSmtp({ stage: "ehlo", intervalMs: 100 });
  const r = await rig();
  try {
    const config = alertConfig({
      alerts: { channels: [mailChannel("mail", peer.port, 0.6, 2)], rules: [failures("f")] },
    });
    const { store, monitor } = await r.open(config);
    await failLog(store, "one");
    const started = Date.now();
    await within(5000, "the first pass with a trickling SMTP server", monitor.tick());
    const elapsed = Date.now() - started;
    // At the 0.6 s deadline, not at the 0.9 s abandon (the reason below says which) nor never (the
    // 5 s bound above). Measured 625-676 ms, 645 ms beside two CPU hogs: 4 s leaves a slow, busy
    // machine its pauses (2 s was only 3x that).
    assert.ok(elapsed < 4000, `the attempt ended at its deadline (${elapsed} ms)`);
    let d = (await monitor.history()).notifications[0]!.deliveries[0]!;
    assert.equal(d.status, "pending");
    assert.equal(d.attempts, 1);
    assert.match(d.lastError ?? "", /did not finish within 0\.6 s \(after EHLO it sent \d+ byte/);
    const retry = r.log.lines.find((l) => l.includes("alert.send-retry"));
    assert.ok(retry, "the failure is logged as a retry");
    assert.match(retry, /channel=mail attempts=1 retryInMs=2000 error=".*did not finish within/);
    await peer.until("the first connection closed", () => peer.closed === 1, 2000);
    r.clock.advance(2000);
    await within(5000, "the retry", monitor.tick());
    d = (await monitor.history()).notifications[0]!.deliveries[0]!;
    assert.equal(d.status, "failed");
    assert.equal(d.attempts, 2);
    assert.ok(r.log.lines.some((l) => /alert\.send-failed .*did not finish within 0\.6 s/.test(l)));
    assert.equal(peer.connections, 2);
  } finally {
    await peer.close();
    await r.close();
  }
});

Deno.test("a healthy webhook gets its notifications while the SMTP channel hangs, and evaluation goes on", async () => {
  const peer = await startTrickleSmtp({ stage: "ehlo", intervalMs: 100 });
  const hook = startHookReceiver();
  const r = await rig();
  try {
    const config = alertConfig({
      alerts: {
        channels: [mailChannel("mail", peer.port, 30), hookChannel("hook", hook.url)],
        rules: [failures("first", 1), failures("second", 2)],
      },
    });
    const { store, monitor } = await r.open(config);
    await failLog(store, "one");
    monitor.start();
    // 10 s each, a bound for a loaded machine: the SMTP lane holds its attempt 30 s, so a webhook
    // queued behind it still fails here.
    await within(10_000, "the webhook while SMTP hangs", hook.waitFor(1));
    assert.equal(hook.hooks[0]!.body.rule, "first");
    // A second condition: the next evaluation (woken now) fires it while SMTP still hangs.
    await failLog(store, "two");
    monitor.wake();
    await within(10_000, "the second webhook while SMTP hangs", hook.waitFor(2));
    assert.equal(hook.hooks[1]!.body.rule, "second");
    assert.equal(peer.connections, 1, "the SMTP lane is still on its first attempt");
    assert.equal(peer.closed, 0, "and that attempt is still under way");
    const mail = (await monitor.history()).notifications.map((n) =>
      n.deliveries.find((d) => d.channel === "mail")!
    );
    assert.deepEqual(mail.map((d) => [d.status, d.attempts]), [["pending", 0], ["pending", 0]]);
  } finally {
    await peer.close();
    await r.close();
    await hook.close();
  }
});

Deno.test("a webhook that never answers fails at its timeoutSeconds and does not hold the e-mail channel", async () => {
  const silent = await startSilentPeer();
  const smtp = await startPlainSmtp();
  const r = await rig();
  try {
    const config = alertConfig({
      alerts: {
        channels: [hookChannel("hook", silent.url, 3), mailChannel("mail", smtp.port, 10)],
        rules: [failures("f")],
      },
    });
    const { store, monitor } = await r.open(config);
    await failLog(store, "one");
    const pass = monitor.tick();
    await within(
      5000,
      "the mail while the webhook hangs",
      waitFor("the mail", () => smtp.mails.length === 1, 5000),
    );
    assert.equal(silent.open(), 1, "the webhook request is still unanswered");
    await within(8000, "the pass", pass);
    const [hookD, mailD] = (await monitor.history()).notifications[0]!.deliveries;
    assert.equal(mailD!.status, "sent");
    assert.equal(hookD!.status, "pending");
    assert.match(hookD!.lastError ?? "", /within 3 s/);
  } finally {
    await silent.close();
    await smtp.close();
    await r.close();
  }
});

Deno.test("stop() returns at once while an SMTP send hangs: the deliveries stay pending in KV, no send starts after it, a restart sends them", async () => {
  const peer = await startTrickleSmtp({ stage: "ehlo", intervalMs: 100 });
  const r = await rig();
  const smtp = await startPlainSmtp();
  try {
    const rules = [failures("first"), failures("second")];
    const config = alertConfig({
      alerts: { channels: [mailChannel("mail", peer.port, 60)], rules },
    });
    const first = await r.open(config);
    await failLog(first.store, "one");
    first.monitor.start();
    await peer.until("EHLO sent", () => /EHLO/.test(peer.received.join("")), 5000);
    const started = Date.now();
    await within(3000, "stop() while a send hangs", first.monitor.stop());
    const elapsed = Date.now() - started;
    // Measured 4-5 ms, 27 ms beside two CPU hogs; a stop() that waits for the hung send takes its
    // 60 s (the 3 s bound above fails first).
    assert.ok(elapsed < 1500, `stop() took ${elapsed} ms`);
    await peer.until("the hung connection closed", () => peer.closed === 1, 2000);
    assert.equal(peer.connections, 1, "the second notification's send never started");
    const pending = (await first.monitor.history()).notifications;
    assert.equal(pending.length, 2);
    for (const n of pending) {
      assert.deepEqual(
        [n.deliveries[0]!.status, n.deliveries[0]!.attempts, n.deliveries[0]!.lastError],
        ["pending", 0, undefined],
      );
    }
    assert.ok(r.log.lines.some((l) => /alert\.send-aborted .*channel=mail/.test(l)));
    first.store.close();
    // After the restart, the same channel id on a healthy relay: both are sent.
    const healed = alertConfig({
      alerts: { channels: [mailChannel("mail", smtp.port, 10)], rules },
    });
    const second = await r.open(healed);
    await within(10_000, "the pass after the restart", second.monitor.tick());
    assert.equal(smtp.mails.length, 2);
    const sent = (await second.monitor.history()).notifications;
    assert.ok(sent.every((n) => n.deliveries[0]!.status === "sent"));
    assert.equal(peer.connections, 1);
  } finally {
    await peer.close();
    await r.close();
    await smtp.close();
  }
});

Deno.test("a mail sender that ignores its deadline is abandoned timeoutSeconds plus the grace later, and retried", async () => {
  const r = await rig();
  let calls = 0;
  let signalled = 0;
  const stuck: MailSender = {
    send: (m) =>
      new Promise<void>(() => {
        calls++;
        m.signal?.addEventListener("abort", () => signalled++);
      }),
  };
  try {
    const config = alertConfig({
      alerts: { channels: [mailChannel("mail", 25, 0.5, 3)], rules: [failures("f")] },
    });
    const { store, monitor } = await r.open(config, stuck);
    await failLog(store, "one");
    const started = Date.now();
    await within(5000, "the pass with a stuck sender", monitor.tick());
    const elapsed = Date.now() - started;
    // Measured 806-832 ms, 857 ms beside two CPU hogs (2 s was under 3x that): a monitor that
    // never abandons the attempt fails the 5 s bound above; one without the grace, the 750 ms.
    assert.ok(elapsed >= 750 && elapsed < 4000, `abandoned at 0.5 s + 0.3 s (${elapsed} ms)`);
    const d = (await monitor.history()).notifications[0]!.deliveries[0]!;
    assert.equal(d.status, "pending");
    assert.equal(d.attempts, 1);
    assert.match(d.lastError ?? "", /did not finish within 0\.5 s; the attempt was abandoned/);
    assert.equal(calls, 1);
    assert.equal(signalled, 1, "the sender's signal was aborted so it closes its connection");
  } finally {
    await r.close();
  }
});
