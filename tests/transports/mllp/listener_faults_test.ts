/**
 * The MLLP listener against faulty and hostile peers (issue 12): senders that reset before reading
 * their ACK, bursts of connections reset before they are accepted, trickled frames, too many
 * connections, over-size frames written in full, and a port already in use. Real sockets on
 * loopback, plain TCP, server TLS and mutual TLS.
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { MllpDecoder } from "../../../codecs/mllp/mod.ts";
import { serveMllp } from "../../../transports/mllp/server.ts";
import { adt, waitFor } from "../../helpers/net.ts";
import { makePki } from "../../helpers/tls.ts";
import { frameOf, RawMllpSender, sleep, summarizeAck } from "../../helpers/raw_sender.ts";
import {
  ackInbox,
  ackOf,
  framedAdt,
  type ListenerKind,
  openNodePeer,
  resetPeer,
  startRig,
  watchUnhandledRejections,
  writeAllThenRead,
} from "./peers.ts";
import type { ConnectResetRequest } from "./connect_reset_worker.ts";
import { tempDir } from "../../helpers/temp.ts";

const dec = new TextDecoder();
const KINDS: ListenerKind[] = ["tcp", "tls", "mtls"];

/** Lines of `event` in the log. */
function linesOf(log: { lines: string[] }, event: string): string[] {
  return log.lines.filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`));
}

// ---------------------------------------------------------------------------------------------
// 1. Senders that reset before reading their ACK
// ---------------------------------------------------------------------------------------------

for (const kind of KINDS) {
  Deno.test(`MLLP listener (${kind}): senders that reset before reading their ACK end their own connection only`, async () => {
    const unhandled = watchUnhandledRejections();
    const log = memoryLogger();
    // The ACK leaves 0-8 ms after the frame, the reset comes 0-8 ms after it: every order of
    // "ACK written" and "reset seen" happens over the rounds.
    const rig = await startRig(kind, {
      inbox: ackInbox({ delayMs: () => Math.random() * 8 }),
      log,
    });
    try {
      for (let round = 0; round < 4; round++) {
        await Promise.all(Array.from({ length: 25 }, async (_, i) => {
          const peer = await openNodePeer(rig.server.port, rig.tls);
          // Every fifth peer sends junk instead of a frame.
          peer.stream.write(
            i % 5 === 4 ? new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n") : framedAdt(`R${i}`),
          );
          await sleep(Math.random() * 8);
          await resetPeer(peer);
        }));
      }
      assert.equal(await ackOf(rig.server.port, rig.tls, "AFTER"), "AA:AFTER");
      await waitFor("the reset connections to be cleaned up", () => rig.server.connections === 0);
      // One line at most per failed connection, with a reason.
      const failures = [
        ...linesOf(log, "mllp.reply-failed"),
        ...linesOf(log, "mllp.connection-error"),
      ];
      const perConnection = new Map<string, number>();
      for (const line of failures) {
        assert.match(line, / reason=/, line);
        const id = / connection=(\S+)/.exec(line)?.[1] ?? line;
        perConnection.set(id, (perConnection.get(id) ?? 0) + 1);
      }
      for (const [id, n] of perConnection) assert.equal(n, 1, `${id}: ${n} lines`);
      assert.equal(rig.server.accepting, true);
    } finally {
      await rig.close();
      assert.deepEqual(unhandled.stop().map(String), []);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// 2. Connections reset before they are accepted
// ---------------------------------------------------------------------------------------------

/** Resets `count` connections from a worker while this thread is blocked, so none is accepted in time. */
function connectResetBurst(port: number, count: number): void {
  const worker = new Worker(new URL("./connect_reset_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    const flag = new SharedArrayBuffer(4);
    const request: ConnectResetRequest = { port, count, flag };
    worker.postMessage(request);
    // Blocks this thread (and so the listener's accept loop) until the worker is done.
    const result = Atomics.wait(new Int32Array(flag), 0, 0, 20_000);
    assert.equal(result, "ok", "the worker finished its burst");
  } finally {
    worker.terminate();
  }
}

for (const kind of KINDS) {
  Deno.test(`MLLP listener (${kind}): bursts of connections reset before they are accepted do not stop it`, async () => {
    const unhandled = watchUnhandledRejections();
    const log = memoryLogger();
    const rig = await startRig(kind, { inbox: ackInbox(), log });
    try {
      for (let round = 0; round < 3; round++) {
        connectResetBurst(rig.server.port, 50);
        assert.equal(await ackOf(rig.server.port, rig.tls, `B${round}`), `AA:B${round}`);
        assert.equal(rig.server.accepting, true);
      }
      assert.deepEqual(linesOf(log, "mllp.listener-failed"), []);
      for (const line of linesOf(log, "mllp.accept-error")) assert.match(line, / reason=/);
    } finally {
      await rig.close();
      assert.deepEqual(unhandled.stop().map(String), []);
    }
  });
}

Deno.test("MLLP listener: accepting turns false after close()", async () => {
  const rig = await startRig("tcp", { inbox: ackInbox(), log: memoryLogger() });
  assert.equal(rig.server.accepting, true);
  await rig.close();
  assert.equal(rig.server.accepting, false);
});

// ---------------------------------------------------------------------------------------------
// 3. Slow senders and connection caps
// ---------------------------------------------------------------------------------------------

Deno.test("MLLP listener: a frame trickled byte by byte is cut off at the frame timeout; others are served meanwhile", async () => {
  const log = memoryLogger();
  const rig = await startRig("tcp", { inbox: ackInbox(), log, frameTimeoutMs: 300 });
  const trickler = await RawMllpSender.connect(rig.server.port);
  try {
    const frame = frameOf(adt("SLOW1"));
    // One byte every 20 ms: the frame would take seconds, far past 300 ms. Stops at the close.
    const trickling = (async () => {
      for (let i = 0; i < frame.length - 2; i++) {
        try {
          await trickler.write(frame.subarray(i, i + 1));
        } catch {
          return; // closed by the listener
        }
        await sleep(20);
      }
    })();
    assert.equal(await ackOf(rig.server.port, undefined, "FAST1"), "AA:FAST1");
    await trickler.closedByPeer();
    await trickling;
    assert.equal(trickler.frames.length, 0);
    const [line, ...more] = linesOf(log, "mllp.frame-timeout");
    assert.equal(more.length, 0);
    assert.match(line ?? "", / peer=127\.0\.0\.1 .* bytes=\d+ timeoutMs=300/);
    // The deadline is per frame: a connection quiet between frames longer than it is fine.
    const steady = await RawMllpSender.connect(rig.server.port);
    try {
      assert.equal(summarizeAck(await steady.request(adt("Q1"))).code, "AA");
      await sleep(500);
      assert.equal(summarizeAck(await steady.request(adt("Q2"))).code, "AA");
    } finally {
      await steady.close();
    }
  } finally {
    await trickler.close();
    await rig.close();
  }
});

Deno.test("MLLP listener: maxConnectionsPerPeer closes the connection over the cap at once, logs it, and takes new ones once below", async () => {
  const log = memoryLogger();
  const rig = await startRig("tcp", { inbox: ackInbox(), log, maxConnectionsPerPeer: 3 });
  const senders: RawMllpSender[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const s = await RawMllpSender.connect(rig.server.port);
      senders.push(s);
      assert.equal(summarizeAck(await s.request(adt(`P${i}`))).code, "AA");
    }
    const fourth = await RawMllpSender.connect(rig.server.port);
    senders.push(fourth);
    await fourth.closedByPeer();
    assert.equal(fourth.frames.length, 0);
    const [line] = linesOf(log, "mllp.connection-refused");
    assert.match(
      line ?? "",
      / peer=127\.0\.0\.1 reason="too many connections from this address" cap=3 refused=1$/,
    );
    await senders[0]!.close();
    await waitFor("the closed connection to be released", () => rig.server.connections === 2);
    const fifth = await RawMllpSender.connect(rig.server.port);
    senders.push(fifth);
    assert.equal(summarizeAck(await fifth.request(adt("P5"))).code, "AA");
  } finally {
    for (const s of senders) await s.close();
    await rig.close();
  }
});

Deno.test("MLLP listener: maxConnections caps the listener across peers (127.0.0.1 and 127.0.0.2)", async () => {
  const log = memoryLogger();
  const rig = await startRig("tcp", {
    inbox: ackInbox(),
    log,
    maxConnections: 3,
    maxConnectionsPerPeer: 2,
  });
  const peers = [];
  try {
    for (const from of ["127.0.0.1", "127.0.0.1", "127.0.0.2"]) {
      peers.push(await openNodePeer(rig.server.port, undefined, from));
    }
    await waitFor("three connections", () => rig.server.connections === 3);
    const over = await openNodePeer(rig.server.port, undefined, "127.0.0.2");
    peers.push(over);
    await new Promise<void>((resolve) => over.raw.once("close", () => resolve()));
    const [line] = linesOf(log, "mllp.connection-refused");
    assert.match(
      line ?? "",
      / peer=127\.0\.0\.2 reason="too many connections on this listener" cap=3 refused=1$/,
    );
    assert.equal(rig.server.connections, 3);
  } finally {
    for (const p of peers) p.raw.destroy();
    await rig.close();
  }
});

// ---------------------------------------------------------------------------------------------
// 4. Over-size frames: the AR is read, the end is orderly
// ---------------------------------------------------------------------------------------------

for (const kind of KINDS) {
  Deno.test(`MLLP listener (${kind}): a sender that writes an over-size frame in full reads the AR and an orderly end`, async () => {
    const unhandled = watchUnhandledRejections();
    const log = memoryLogger();
    const rig = await startRig(kind, { inbox: ackInbox({ maxFrameBytes: 4096 }), log });
    try {
      for (let i = 0; i < 3; i++) {
        const got = await writeAllThenRead(
          rig.server.port,
          rig.tls,
          framedAdt(`BIG${i}`, "Q".repeat(8_000_000)),
        );
        assert.equal(got.error, undefined, `sender error: ${got.error}`);
        assert.equal(got.ended, true);
        const frames = new MllpDecoder().push(got.received).flatMap((e) =>
          e.type === "frame" ? [e.payload] : []
        );
        assert.equal(frames.length, 1);
        assert.equal(parseHl7(dec.decode(frames[0])).get("MSA-1"), "AR");
      }
      assert.equal(await ackOf(rig.server.port, rig.tls, "AFTERBIG"), "AA:AFTERBIG");
    } finally {
      await rig.close();
      assert.deepEqual(unhandled.stop().map(String), []);
    }
  });
}

Deno.test("MLLP listener: after an over-size AR a sender that keeps the connection open is closed after the drain time", async () => {
  const log = memoryLogger();
  const rig = await startRig("tcp", {
    inbox: ackInbox({ maxFrameBytes: 1024 }),
    log,
    oversizeDrainMs: 200,
  });
  const s = await RawMllpSender.connect(rig.server.port);
  try {
    await s.write(frameOf(adt("BIG", "Z".repeat(4000))));
    await s.frameCount(1);
    assert.equal(summarizeAck(s.frames[0]!).code, "AR");
    // Our side stays open; the listener's half-close already ended our reads, and then it closes.
    await s.closedByPeer();
    await waitFor("the listener to close its side", () => rig.server.connections === 0);
  } finally {
    await s.close();
    await rig.close();
  }
});

// ---------------------------------------------------------------------------------------------
// 5. A port already in use
// ---------------------------------------------------------------------------------------------

for (const kind of KINDS) {
  Deno.test(`MLLP listener (${kind}): a port already in use is named in the error`, async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    const pki = await makePki();
    try {
      const tls = { cert: pki.serverCert, key: pki.serverKey };
      await assert.rejects(
        serveMllp({
          port,
          hostname: "127.0.0.1",
          inbox: ackInbox(),
          log: memoryLogger(),
          ...(kind === "tls" ? { tls } : {}),
          ...(kind === "mtls" ? { tls: { ...tls, ca: pki.caCert, requireClientCert: true } } : {}),
        }),
        (error: Error) => {
          assert.equal(
            error.message,
            `MLLP listener cannot bind 127.0.0.1:${port}: address already in use`,
          );
          return true;
        },
      );
    } finally {
      taken.close();
      await Deno.remove(pki.dir, { recursive: true });
    }
  });
}

Deno.test("main.ts serve: a listener port already in use ends the start with one line naming it", async () => {
  await using dir = await tempDir({ prefix: "mllp_port_taken_" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    const config = {
      node: { id: "port-taken" },
      kv: { path: `${dir.path}/engine.kv` },
      http: { port: 0, hostname: "127.0.0.1", development: true },
      admin: { token: { env: "ADMIN_T" } },
      environments: [{ id: "dev", type: "development" }],
      integrations: [{ id: "feed", environment: "dev", mllp: { port, allowedIps: ["127.0.0.1"] } }],
      listeners: [{ port, hostname: "127.0.0.1" }],
    };
    await Deno.writeTextFile(`${dir.path}/config.json`, JSON.stringify(config));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "serve", "--config", `${dir.path}/config.json`],
      cwd: new URL("../../../", import.meta.url).pathname,
      env: { ADMIN_T: "test-token-0123456789" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = dec.decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    const lines = stderr.trimEnd().split("\n").filter((l) => l.includes("MLLP listener"));
    assert.deepEqual(lines, [
      `cannot listen: MLLP listener cannot bind 127.0.0.1:${port}: address already in use`,
    ]);
  } finally {
    taken.close();
  }
});

Deno.test("MLLP listener: out of file descriptors (EMFILE) it pauses, says so, and accepts again once some are free", async () => {
  // The listener runs in a child process whose open-files limit is 48.
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      'ulimit -n 48 && exec "$0" run -A tests/transports/mllp/fd_limit_child.ts',
      Deno.execPath(),
    ],
    cwd: new URL("../../../", import.meta.url).pathname,
    // Deno's background update check would open sockets and files at any moment.
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  const stdoutLines: string[] = [];
  const stdoutDone = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      stdoutLines.push(...parts);
    }
  })();
  const conns: Deno.Conn[] = [];
  try {
    await waitFor("the child to listen", () => stdoutLines.some((l) => l.startsWith("port=")));
    const port = Number(stdoutLines.find((l) => l.startsWith("port="))!.slice(5));
    // More connections than the child has descriptors: its accepts start failing with EMFILE.
    for (let i = 0; i < 80; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await waitFor("the listener to pause", () => stdoutLines.includes("accepting=false"));
    await waitFor("the pause to be logged", () => stderr.includes("mllp.accept-backoff"));
    assert.match(stderr, /mllp\.accept-backoff port=\d+ reason="Too many open files/);
    for (const c of conns.splice(0)) c.close();
    assert.equal(await ackOf(port, undefined, "FDS1"), "AA:FDS1");
    await waitFor("accepting again", () => stdoutLines.at(-1) === "accepting=true");
    assert.doesNotMatch(stderr, /listener-failed/);
  } finally {
    for (const c of conns) c.close();
    await child.stdin.close();
    const status = await child.status;
    await Promise.all([stderrDone, stdoutDone]);
    assert.equal(status.code, 0, stderr);
  }
});
