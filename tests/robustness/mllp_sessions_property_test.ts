/**
 * fast-check generated MLLP sessions against the real engine (a child process, see
 * engine_process.ts): up to three connections, plain or TLS, driven by a random sequence of
 * connect, valid frame, junk, partial frame, reset, close and read-the-ACKs. After each session:
 * the engine is alive, every complete valid frame on a connection the engine kept open was answered
 * `AA` with its own control id, every `AA`ed message is stored, nothing answered a control id we
 * never sent, and the plain listener still answers a normal message with `AA`. The whole property
 * ends with the shared checks (both listeners, delivery, connections released, memory, nothing
 * unhandled).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeMllp } from "../../codecs/mllp/mod.ts";
import { adt } from "../helpers/net.ts";
import { summarizeAck } from "../helpers/raw_sender.ts";
import { type EngineProcess, nextControlId, SharedEngine } from "./engine_process.ts";
import { HostilePeer } from "./hostile_peer.ts";

/** One step of a generated session; `c` picks one of three connection slots. */
type Action =
  | { t: "connect"; c: number; tls: boolean }
  | { t: "valid"; c: number }
  | { t: "junk"; c: number; bytes: Uint8Array }
  | { t: "partial"; c: number; keep: number }
  | { t: "reset"; c: number }
  | { t: "close"; c: number }
  | { t: "read"; c: number };

const slot = fc.integer({ min: 0, max: 2 });
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    arbitrary: fc.record({ t: fc.constant("connect" as const), c: slot, tls: fc.boolean() }),
    weight: 3,
  },
  { arbitrary: fc.record({ t: fc.constant("valid" as const), c: slot }), weight: 4 },
  {
    arbitrary: fc.record({
      t: fc.constant("junk" as const),
      c: slot,
      // Mostly printable junk, with MLLP's VT, FS and CR mixed in.
      bytes: fc.array(
        fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constantFrom(0x0b, 0x1c, 0x0d)),
        { minLength: 1, maxLength: 200 },
      ).map((a) => Uint8Array.from(a)),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      t: fc.constant("partial" as const),
      c: slot,
      keep: fc.integer({ min: 1, max: 100 }),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ t: fc.constant("reset" as const), c: slot }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant("close" as const), c: slot }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant("read" as const), c: slot }), weight: 3 },
);

/** A connection slot during a session. */
interface Conn {
  peer: HostilePeer;
  /** Control ids of the complete valid frames sent on it, in order. */
  sent: string[];
}

/** Runs one session; returns every control id the engine answered `AA`. */
async function runSession(
  engine: EngineProcess,
  actions: Action[],
  ending: "read" | "reset",
): Promise<string[]> {
  const conns: (Conn | undefined)[] = [undefined, undefined, undefined];
  const all: Conn[] = [];
  const sentIds = new Set<string>();
  /** Waits for an answer to every valid frame on a connection the engine has not ended. */
  const readAll = async (conn: Conn) => {
    const answered = () => {
      const ids = new Set(conn.peer.frames.map((f) => summarizeAck(f).msa2));
      return conn.sent.every((id) => ids.has(id));
    };
    await conn.peer.waitFor("the ACKs of every valid frame", answered, 10_000);
    if (!conn.peer.ended) assert.ok(answered(), "every valid frame was answered");
  };
  try {
    for (const a of actions) {
      // A slot is connected by its first action (plain unless that action is a TLS connect).
      if (!conns[a.c] || (a.t === "connect" && conns[a.c]!.peer.ended)) {
        const tls = a.t === "connect" && a.tls;
        const port = tls ? engine.tlsPort : engine.mllpPort;
        const peer = await HostilePeer.connect(port, tls ? { tlsCa: engine.pki.caCert } : {});
        conns[a.c] = { peer, sent: [] };
        all.push(conns[a.c]!);
      }
      const conn = conns[a.c]!;
      if (a.t === "connect" || conn.peer.ended) continue;
      switch (a.t) {
        case "valid": {
          const id = nextControlId("FC");
          sentIds.add(id);
          await conn.peer.write(encodeMllp(adt(id))).then(() => conn.sent.push(id), () => {});
          break;
        }
        case "junk":
          await conn.peer.write(a.bytes).catch(() => {});
          break;
        case "partial": {
          // Junk with FS CR may complete it into a message of its own: its id may be answered.
          const id = nextControlId("FCP");
          sentIds.add(id);
          const bytes = encodeMllp(adt(id));
          await conn.peer.write(bytes.subarray(0, Math.min(a.keep, bytes.length - 2)))
            .catch(() => {});
          break;
        }
        case "reset":
          await conn.peer.reset();
          conns[a.c] = undefined;
          break;
        case "close":
          await readAll(conn);
          await conn.peer.close();
          conns[a.c] = undefined;
          break;
        case "read":
          await readAll(conn);
          break;
      }
    }
    // The session ends politely (every answer read) or rudely (reset with answers in flight).
    if (ending === "read") {
      for (const c of conns) if (c && !c.peer.ended) await readAll(c);
    }
  } finally {
    await Promise.all(all.map((c) => c.peer.reset()));
  }
  const acked: string[] = [];
  for (const c of all) {
    for (const f of c.peer.frames) {
      const ack = summarizeAck(f);
      if (ack.code !== "AA") continue;
      assert.ok(ack.msa2 && sentIds.has(ack.msa2), `AA for a control id never sent: ${ack.msa2}`);
      acked.push(ack.msa2);
    }
  }
  return acked;
}

Deno.test("MLLP: generated sessions of valid frames, junk, partial frames, resets and closes", async () => {
  const shared = new SharedEngine();
  try {
    await shared.runCase("generated sessions", async (engine) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(action, { minLength: 1, maxLength: 16 }),
          fc.constantFrom("read" as const, "reset" as const),
          async (actions, ending) => {
            assert.ok(engine.alive, "the engine is alive");
            const acked = await runSession(engine, actions, ending);
            const stored = await engine.receivedControlIds();
            for (const id of acked) assert.ok(stored.has(id), `${id} got AA but is not stored`);
            assert.ok(engine.alive, `the engine died:\n${engine.output.slice(-3000)}`);
            engine.assertNoUnhandled();
            await engine.sendNormal().catch((e) => {
              const errors = engine.output.split("\n").filter((l) => / (ERROR|WARN) /.test(l));
              throw new Error(`${e.message}; engine errors:\n${errors.slice(-10).join("\n")}`);
            });
          },
        ),
        // A broken engine fails every later session too: shrinking would only mislead.
        {
          numRuns: 100,
          endOnFailure: true,
          interruptAfterTimeLimit: 60_000,
          markInterruptAsFailure: false,
        },
      );
    }, { timeoutMs: 90_000 });
  } finally {
    await shared.stop();
  }
});
