/**
 * `send` with a message that holds an MLLP control byte: it is refused locally, before any
 * byte of it goes out, with where the byte is; the file's other messages are still sent.
 */

import assert from "node:assert/strict";
import { buildAck, parseHl7 } from "../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";

const root = new URL("../../", import.meta.url).pathname;

async function run(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A real MLLP receiver on loopback: counts connections, keeps each frame, answers AA. */
function receiver() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: string[] = [];
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const decoder = new MllpDecoder();
        const buf = new Uint8Array(65536);
        while (true) {
          const n = await conn.read(buf);
          if (n === null) break;
          for (const e of decoder.push(buf.slice(0, n))) {
            if (e.type !== "frame") continue;
            const text = new TextDecoder().decode(e.payload);
            received.push(text);
            await conn.write(encodeMllp(buildAck(parseHl7(text), { code: "AA" }).encode()));
          }
        }
      })().catch(() => {}).finally(() => conn.close());
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    received,
    connections: () => conns.length,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed by the sender */ }
      }
      await serving;
    },
  };
}

const BAD = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|2.5.1\rPID|1||1^^^H^MR||DO\x1cE^J\r";
const GOOD = "MSH|^~\\&|A|B|C|D|20240101||ADT^A08|C2|P|2.5.1\rPID|1||2^^^H^MR||ROE^J\r";
const NOT_SENT = "#1 C1: not sent: the message contains the MLLP control byte 0x1C at byte 65 " +
  "(in PID-5), which would corrupt framing; remove it from the file\n";

Deno.test("send refuses a message holding an MLLP control byte, naming where, and sends the others", async () => {
  const peer = receiver();
  const dir = await Deno.makeTempDir({ prefix: "cli-send-ctl-" });
  try {
    await Deno.writeTextFile(`${dir}/batch.hl7`, BAD + GOOD);
    const r = await run(["send", `127.0.0.1:${peer.port}`, `${dir}/batch.hl7`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`batch.hl7 ${NOT_SENT}`), r.stdout);
    assert.match(r.stdout, /batch\.hl7 #2 C2: AA\n/);
    assert.doesNotMatch(r.stdout + r.stderr, /peer closed|offset/);
    assert.deepEqual(peer.received, [GOOD]);
  } finally {
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("send does not connect when no message of the files can be framed", async () => {
  const peer = receiver();
  const dir = await Deno.makeTempDir({ prefix: "cli-send-ctl-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.hl7`, BAD);
    const r = await run(["send", `127.0.0.1:${peer.port}`, `${dir}/bad.hl7`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`bad.hl7 ${NOT_SENT}`), r.stdout);
    assert.equal(r.stderr, "");
    assert.equal(peer.connections(), 0);
  } finally {
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
