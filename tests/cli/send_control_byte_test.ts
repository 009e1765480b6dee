/**
 * `send` with a message that holds an MLLP control byte: it is refused locally, before any
 * byte of it goes out, with where the byte is; the file's other messages are still sent.
 */

import assert from "node:assert/strict";
import { controlIds, startReceiver } from "../helpers/receivers.ts";

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

const BAD = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|C1|P|2.5.1\rPID|1||1^^^H^MR||DO\x1cE^J\r";
const GOOD = "MSH|^~\\&|A|B|C|D|20240101||ADT^A08|C2|P|2.5.1\rPID|1||2^^^H^MR||ROE^J\r";
const NOT_SENT = "#1 C1: not sent: the message contains the MLLP control byte 0x1C at byte 65 " +
  "(in PID-5), which would corrupt framing; remove it from the file\n";

Deno.test("send refuses a message holding an MLLP control byte, naming where, and sends the others", async () => {
  const peer = startReceiver((frame) => frame.ack("AA"));
  const dir = await Deno.makeTempDir({ prefix: "cli-send-ctl-" });
  try {
    await Deno.writeTextFile(`${dir}/batch.hl7`, BAD + GOOD);
    const r = await run(["send", `127.0.0.1:${peer.port}`, `${dir}/batch.hl7`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`batch.hl7 ${NOT_SENT}`), r.stdout);
    assert.match(r.stdout, /batch\.hl7 #2 C2: AA\n/);
    assert.doesNotMatch(r.stdout + r.stderr, /peer closed|offset/);
    assert.deepEqual(controlIds(peer), ["C2"]);
    assert.equal(peer.frames[0]!.message.encode(), GOOD);
  } finally {
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("send does not connect when no message of the files can be framed", async () => {
  const peer = startReceiver((frame) => frame.ack("AA"));
  const dir = await Deno.makeTempDir({ prefix: "cli-send-ctl-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.hl7`, BAD);
    const r = await run(["send", `127.0.0.1:${peer.port}`, `${dir}/bad.hl7`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`bad.hl7 ${NOT_SENT}`), r.stdout);
    assert.equal(r.stderr, "");
    assert.equal(peer.accepted, 0);
  } finally {
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
