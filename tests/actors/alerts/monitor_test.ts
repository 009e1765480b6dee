/**
 * The alert monitor against real peers: a webhook receiver that checks the HMAC signature and
 * `smtp-server` with STARTTLS; a manual clock for windows, reminders and retries; a real KV file
 * for state shared across a restart and between two processes' stores.
 */

import assert from "node:assert/strict";
import { AlertMonitor } from "../../../actors/alerts/monitor.ts";
import { engineInputs } from "../../../actors/alerts/inputs.ts";
import type { Config } from "../../../actors/config/mod.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/store.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { NodemailerSender } from "../../../transports/smtp/mod.ts";
import { makePki } from "../../helpers/tls.ts";
import { alertConfig, failLogs, hookConfig, startHookReceiver, startSmtp } from "./fixture.ts";

interface Rig {
  clock: ManualClock;
  dir: string;
  stores: Store[];
  monitors: AlertMonitor[];
  sender: FetchSender;
  open(node: string, config: Config): Promise<{ store: Store; monitor: AlertMonitor }>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const clock = new ManualClock();
  const dir = await Deno.makeTempDir({ prefix: "alerts-" });
  const sender = new FetchSender();
  const stores: Store[] = [];
  const monitors: AlertMonitor[] = [];
  return {
    clock,
    dir,
    stores,
    monitors,
    sender,
    async open(node, config) {
      const store = await Store.open({ path: `${dir}/kv`, node, now: () => clock.now() });
      stores.push(store);
      const monitor = new AlertMonitor({
        store,
        inputs: engineInputs({ store, actors: () => Promise.resolve([]), config: () => config }),
        config: () => config.alerts,
        deps: { http: sender, mail: new NodemailerSender() },
        clock,
        log: memoryLogger(),
      });
      monitors.push(monitor);
      return { store, monitor };
    },
    async close() {
      try {
        for (const m of monitors) await m.stop();
      } finally {
        for (const s of stores) s.close();
        await sender.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

Deno.test("failed-logs alert: fires once, reminds at its interval, resolves; all signed and in the history", async () => {
  const hook = startHookReceiver();
  const r = await rig();
  try {
    const config = hookConfig(hook, [{
      id: "failures",
      kind: "failed-logs",
      threshold: 3,
      windowSeconds: 600,
      integration: "lab",
      remindEverySeconds: 300,
    }]);
    const { store, monitor } = await r.open("n1", config);
    await failLogs(store, 2);
    await monitor.tick();
    assert.equal(hook.hooks.length, 0, "2 failures are under the threshold");
    await failLogs(store, 1);
    await monitor.tick();
    assert.equal(hook.hooks.length, 1);
    assert.equal(hook.hooks[0]!.body.event, "firing");
    assert.equal(hook.hooks[0]!.body.rule, "failures");
    assert.ok(hook.hooks[0]!.signed, "signature checks out");
    r.clock.advance(100_000);
    await monitor.tick();
    assert.equal(hook.hooks.length, 1, "no repeat before the reminder interval");
    r.clock.advance(200_000);
    await monitor.tick();
    assert.equal(hook.hooks.length, 2);
    assert.equal(hook.hooks[1]!.body.event, "reminder");
    // The failures leave the window: resolved.
    r.clock.advance(400_000);
    await monitor.tick();
    assert.equal(hook.hooks.length, 3);
    assert.equal(hook.hooks[2]!.body.event, "resolved");
    assert.ok(hook.hooks.every((h) => h.signed));
    const history = await monitor.history();
    assert.deepEqual(history.notifications.map((n) => n.event), ["resolved", "reminder", "firing"]);
    assert.ok(history.notifications.every((n) => n.deliveries[0]!.status === "sent"));
    assert.deepEqual(await monitor.firing(), []);
  } finally {
    await r.close();
    await hook.close();
  }
});

Deno.test("alert state is in KV: a restarted monitor neither repeats the firing nor forgets to resolve", async () => {
  const hook = startHookReceiver();
  const r = await rig();
  try {
    const config = hookConfig(hook, [{
      id: "failures",
      kind: "failed-logs",
      threshold: 1,
      windowSeconds: 60,
    }]);
    const first = await r.open("n1", config);
    await failLogs(first.store, 1);
    await first.monitor.tick();
    assert.equal(hook.hooks.length, 1);
    await first.monitor.stop();
    first.store.close();
    const second = await r.open("n1", config);
    await second.monitor.tick();
    assert.equal(hook.hooks.length, 1, "not fired again after the restart");
    r.clock.advance(61_000);
    await second.monitor.tick();
    assert.deepEqual(hook.hooks.map((h) => h.body.event), ["firing", "resolved"]);
  } finally {
    await r.close();
    await hook.close();
  }
});

Deno.test("two processes on one KV: only the lease holder sends an alert", async () => {
  const hook = startHookReceiver();
  const r = await rig();
  try {
    const config = hookConfig(hook, [{
      id: "failures",
      kind: "failed-logs",
      threshold: 1,
      windowSeconds: 60,
    }]);
    const a = await r.open("n1", config);
    const b = await r.open("n2", config);
    await failLogs(a.store, 1);
    await Promise.all([a.monitor.tick(), b.monitor.tick()]);
    await a.monitor.tick();
    await b.monitor.tick();
    assert.equal(hook.hooks.length, 1);
  } finally {
    await r.close();
    await hook.close();
  }
});

Deno.test("a webhook answered 500 is retried with backoff on the clock, then recorded as sent", async () => {
  const hook = startHookReceiver();
  const r = await rig();
  try {
    const config = hookConfig(hook, [{
      id: "failures",
      kind: "failed-logs",
      threshold: 1,
      windowSeconds: 3600,
    }]);
    const { store, monitor } = await r.open("n1", config);
    await failLogs(store, 1);
    hook.failNext.push(500, 503);
    monitor.start();
    await monitor.nextTick(); // the first evaluation: attempt 1 fails
    let pending = (await monitor.history()).notifications[0]!.deliveries[0]!;
    assert.equal(pending.status, "pending");
    assert.equal(pending.attempts, 1);
    assert.match(pending.lastError ?? "", /HTTP 500/);
    let tick = monitor.nextTick();
    r.clock.advance(2_000); // backoff 2 s: attempt 2 fails (503)
    await tick;
    tick = monitor.nextTick();
    r.clock.advance(4_000); // backoff 4 s: attempt 3 succeeds
    await tick;
    pending = (await monitor.history()).notifications[0]!.deliveries[0]!;
    assert.equal(pending.status, "sent");
    assert.equal(pending.attempts, 3);
    assert.equal(hook.hooks.length, 1);
  } finally {
    await r.close();
    await hook.close();
  }
});

Deno.test("e-mail alert over SMTP with STARTTLS to smtp-server: firing and resolved", async () => {
  const pki = await makePki();
  const smtp = await startSmtp(pki);
  const r = await rig();
  try {
    await Deno.writeTextFile(`${r.dir}/ca.pem`, pki.caCert);
    const config = alertConfig({
      alerts: {
        channels: [{
          id: "mail",
          email: {
            host: "localhost",
            port: smtp.port,
            ca: { file: `${r.dir}/ca.pem` },
            from: "engine@example.org",
            to: ["oncall@example.org"],
          },
        }],
        rules: [{ id: "kv", kind: "failed-logs", threshold: 1, windowSeconds: 60 }],
      },
    });
    const { store, monitor } = await r.open("n1", config);
    await failLogs(store, 1, "any");
    await monitor.tick();
    assert.equal(smtp.mails.length, 1);
    assert.ok(smtp.mails[0]!.secure, "STARTTLS before the message");
    assert.deepEqual(smtp.mails[0]!.to, ["oncall@example.org"]);
    assert.match(smtp.mails[0]!.data, /Subject: \[FIRING\] kv: all/);
    r.clock.advance(61_000);
    await monitor.tick();
    assert.equal(smtp.mails.length, 2);
    assert.match(smtp.mails[1]!.data, /Subject: \[RESOLVED\] kv: all/);
  } finally {
    await r.close();
    await smtp.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("e-mail to a server without STARTTLS is refused and retried, never sent in clear", async () => {
  const r = await rig();
  // A plain SMTP peer that does not offer STARTTLS.
  // @ts-types="@types/smtp-server"
  const { SMTPServer } = await import("smtp-server");
  let received = 0;
  const plain = new SMTPServer({
    hideSTARTTLS: true,
    authOptional: true,
    logger: false,
    onData(stream, _s, cb) {
      stream.resume();
      stream.on("end", () => {
        received++;
        cb();
      });
    },
  });
  // The refused handshake is reported on the server: expected here.
  plain.on("error", () => {});
  const port = await new Promise<number>((resolve) =>
    plain.listen(0, "127.0.0.1", () => resolve((plain.server.address() as { port: number }).port))
  );
  try {
    const config = alertConfig({
      alerts: {
        channels: [{
          id: "mail",
          email: { host: "127.0.0.1", port, from: "e@example.org", to: ["o@example.org"] },
        }],
        rules: [{ id: "f", kind: "failed-logs", threshold: 1, windowSeconds: 60 }],
      },
    });
    const { store, monitor } = await r.open("n1", config);
    await failLogs(store, 1, "any");
    await monitor.tick();
    const d = (await monitor.history()).notifications[0]!.deliveries[0]!;
    assert.equal(d.status, "pending");
    assert.equal(received, 0);
    assert.ok(d.lastError);
  } finally {
    await r.close();
    await new Promise<void>((res) => plain.close(() => res()));
  }
});
