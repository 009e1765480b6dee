/**
 * Hostile and faulty MLLP senders against the real engine (a child process, see
 * engine_process.ts). Every case ends with the same checks: the process is alive, both listeners
 * (plain and TLS) still accept and answer a normal message with `AA`, which is stored and delivered,
 * MLLP connections are released, RSS stayed bounded, and nothing was left unhandled.
 */

import assert from "node:assert/strict";
import { encodeMllp } from "../../codecs/mllp/mod.ts";
import { adt, waitFor } from "../helpers/net.ts";
import { summarizeAck } from "../helpers/raw_sender.ts";
import { type EngineProcess, LIMITS, nextControlId, SharedEngine } from "./engine_process.ts";
import {
  connectAndReset,
  connectResetBurst,
  HostilePeer,
  type PeerOptions,
  randomBytes,
  sleep,
} from "./hostile_peer.ts";

const shared = new SharedEngine();

/** The plain and the TLS port of the engine, with how to connect to each. */
function listeners(engine: EngineProcess): { name: string; port: number; options: PeerOptions }[] {
  return [
    { name: "plain", port: engine.mllpPort, options: {} },
    { name: "TLS", port: engine.tlsPort, options: { tlsCa: engine.pki.caCert } },
  ];
}

/** A framed ADT^A01 with a fresh control id. */
function frame(prefix: string): { id: string; bytes: Uint8Array } {
  const id = nextControlId(prefix);
  return { id, bytes: encodeMllp(adt(id)) };
}

/** Engine output written since `from` (an offset into `engine.output`). */
function since(engine: EngineProcess, from: number): string[] {
  return engine.output.slice(from).split("\n");
}

Deno.test("MLLP: hostile senders never crash the engine or stop a listener", async (t) => {
  try {
    await t.step("reset right after connecting, 20 times on each listener", async () => {
      await shared.runCase("reset after connect", async (engine) => {
        for (const l of listeners(engine)) {
          for (let i = 0; i < 20; i++) await connectAndReset(l.port);
        }
      });
    });

    await t.step("bursts of 50 connect-resets, 3 rounds, on each listener", async () => {
      await shared.runCase("connect-reset bursts", async (engine) => {
        for (const l of listeners(engine)) await connectResetBurst(l.port, 50, 3);
      });
    });

    await t.step("reset in the middle of a frame", async () => {
      await shared.runCase("reset mid-frame", async (engine) => {
        for (const l of listeners(engine)) {
          for (let i = 0; i < 5; i++) {
            const peer = await HostilePeer.connect(l.port, l.options);
            const f = frame("MID");
            await peer.write(f.bytes.subarray(0, Math.floor(f.bytes.length / 2)));
            await sleep(5);
            await peer.reset();
          }
        }
      });
    });

    await t.step("reset after a whole frame, before the ACK (valid frames and junk)", async () => {
      await shared.runCase("reset before the ACK", async (engine) => {
        for (const l of listeners(engine)) {
          // The reset lands before, during or after the commit: 0 to 9 ms after the frame.
          for (let i = 0; i < 20; i++) {
            const peer = await HostilePeer.connect(l.port, l.options);
            const bytes = i % 2 === 0 ? frame("NOACK").bytes : encodeMllp("not HL7 at all\r");
            await peer.write(bytes);
            await sleep(i % 10);
            await peer.reset();
          }
        }
      });
    });

    await t.step("reset after reading part of the ACK: the message was stored", async () => {
      const acked: string[] = [];
      await shared.runCase("reset after part of the ACK", async (engine) => {
        for (const l of listeners(engine)) {
          for (let i = 0; i < 5; i++) {
            const peer = await HostilePeer.connect(l.port, l.options);
            const f = frame("PART");
            await peer.write(f.bytes);
            await peer.waitBytes(1);
            await peer.reset();
            acked.push(f.id);
          }
        }
        // The ACK is written only after the commit: a message whose ACK began is stored.
        const stored = await engine.receivedControlIds();
        for (const id of acked) assert.ok(stored.has(id), `${id} was acknowledged, not stored`);
      });
    });

    await t.step("pipelined frames then a reset, and a reset between two frames", async () => {
      await shared.runCase("reset between frames", async (engine) => {
        for (const l of listeners(engine)) {
          // Five frames in one write, reset at once: the engine writes five ACKs to a dead socket.
          const burst = await HostilePeer.connect(l.port, l.options);
          const frames = Array.from({ length: 5 }, () => frame("PIPE").bytes);
          await burst.write(new Uint8Array(frames.flatMap((f) => [...f])));
          await burst.reset();
          // One frame answered, then a reset before the second.
          const peer = await HostilePeer.connect(l.port, l.options);
          const first = nextControlId("BETWEEN");
          const ack = summarizeAck(await peer.request(adt(first)));
          assert.equal(ack.code, "AA");
          assert.equal(ack.msa2, first);
          await peer.reset();
          assert.ok((await engine.receivedControlIds()).has(first));
        }
      });
    });

    await t.step("a frame trickled one byte per write is answered AA", async () => {
      await shared.runCase("fast trickle", async (engine) => {
        for (const l of listeners(engine)) {
          const peer = await HostilePeer.connect(l.port, l.options);
          try {
            const f = frame("TRICKLE");
            await peer.trickle(f.bytes, 1, 0);
            const [reply] = await peer.waitFrames(1);
            const ack = summarizeAck(reply!);
            assert.equal(ack.code, "AA");
            assert.equal(ack.msa2, f.id);
          } finally {
            await peer.close();
          }
        }
      });
    });

    await t.step(
      `a frame trickled at 1 byte / 100 ms is cut at the frame deadline (${LIMITS.frameTimeoutSeconds} s) and logged`,
      async () => {
        await shared.runCase("slow trickle", async (engine) => {
          const from = engine.output.length;
          for (const l of listeners(engine)) {
            const peer = await HostilePeer.connect(l.port, l.options);
            try {
              const port = peer.localPort;
              assert.ok(port > 0);
              const f = frame("SLOW");
              const trickling = peer.trickle(f.bytes, 1, 100);
              // The whole frame would take ~30 s; the deadline is 1 s: allow generous slack.
              await peer.waitEnd(10_000).catch((e) => {
                throw new Error(`${l.name}: a frame trickled for 10 s is still open: ${e.message}`);
              });
              await trickling;
              assert.equal(
                peer.frames.length === 0 ||
                  summarizeAck(peer.frames[0]!).code !== "AA",
                true,
                "no AA for a cut frame",
              );
              await waitFor(
                `a log line on the frame timeout of :${port}`,
                () =>
                  since(engine, from).some((line) =>
                    line.includes(`:${port}`) && /time ?out|deadline/i.test(line)
                  ),
                5000,
              );
            } finally {
              await peer.reset();
            }
          }
        });
      },
    );

    await t.step("random bytes, with and without MLLP block characters", async () => {
      await shared.runCase("random bytes", async (engine) => {
        for (const l of listeners(engine)) {
          for (let seed = 1; seed <= 4; seed++) {
            const peer = await HostilePeer.connect(l.port, l.options);
            const junk = randomBytes(64 * 1024, seed);
            await peer.write(junk).catch(() => {});
            if (seed % 2 === 0) await peer.reset();
            else await peer.close();
          }
        }
      });
    });

    await t.step(
      "an over-size frame gets AR, which the sender reads before a clean close",
      async () => {
        await shared.runCase("over-size frame", async (engine) => {
          for (const size of [LIMITS.maxHl7Bytes * 2, 1024 * 1024]) {
            const peer = await HostilePeer.connect(engine.mllpPort);
            try {
              const id = nextControlId("BIG");
              const big = encodeMllp(adt(id, "X".repeat(size)));
              // Keep sending the whole frame as a real sender would, answer or not.
              const sending = peer.write(big).catch(() => {});
              const [reply] = await peer.waitFrames(1).catch((e) => {
                throw new Error(`${size} bytes: no AR read by the sender: ${e.message}`);
              });
              assert.equal(summarizeAck(reply!).code, "AR");
              await sending;
              await peer.waitEnd(10_000);
              assert.equal(
                peer.error,
                undefined,
                `the engine reset instead of closing: ${peer.error}`,
              );
            } finally {
              await peer.reset();
            }
          }
        });
      },
    );

    await t.step(
      `connection caps: ${LIMITS.maxConnectionsPerPeer} per peer, ${LIMITS.maxConnectionsPerListener} per listener, refusals logged`,
      async () => {
        await shared.runCase("connection caps", async (engine) => {
          const from = engine.output.length;
          const open = async (n: number, localAddress: string) => {
            const peers: HostilePeer[] = [];
            for (let i = 0; i < n; i++) {
              peers.push(await HostilePeer.connect(engine.mllpPort, { localAddress }));
            }
            return peers;
          };
          const closeAll = (peers: HostilePeer[]) => Promise.all(peers.map((p) => p.close()));
          // One peer address over its cap.
          const one = await open(LIMITS.maxConnectionsPerPeer + 5, "127.0.0.1");
          try {
            await waitFor(
              "the engine to refuse the connections over the per-peer cap",
              () => one.filter((p) => p.ended).length >= 5,
              10_000,
            );
            assert.ok(
              await engine.mllpConnections(engine.mllpPort) <= LIMITS.maxConnectionsPerPeer,
            );
          } finally {
            await closeAll(one);
          }
          // Two peer addresses, each under its cap, together over the listener's.
          const half = LIMITS.maxConnectionsPerListener / 2 + 5;
          const many = [...await open(half, "127.0.0.2"), ...await open(half, "127.0.0.3")];
          try {
            await waitFor(
              "the engine to refuse the connections over the per-listener cap",
              () => many.filter((p) => p.ended).length >= 10,
              10_000,
            );
            const held = await engine.mllpConnections(engine.mllpPort);
            assert.ok(held <= LIMITS.maxConnectionsPerListener, `${held} connections held`);
          } finally {
            await closeAll(many);
          }
          const refusals = since(engine, from).filter((line) =>
            /^\S+ WARN/.test(line) && /connection/i.test(line) &&
            /limit|max|cap|too many/i.test(line)
          );
          assert.ok(refusals.length >= 1, "the refusals are logged (one WARN line at least)");
        });
      },
    );
  } finally {
    await shared.stop();
  }
});
