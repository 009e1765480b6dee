import assert from "node:assert/strict";
import { buildAck, buildNakForUnparsable, parseHl7 } from "../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";
import { freePort } from "../helpers/net.ts";
import { tempDir } from "../helpers/temp.ts";
import { readUntil } from "../helpers/child_output.ts";

const root = new URL("../../", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: root,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function spawn(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("check accepts the demo config", async () => {
  const r = await run(["check", "config/demo.json"]);
  assert.equal(r.code, 0, r.stderr);
  // The demo feed and receiver, plus the sandbox's two connections (2 integrations, 3 destinations).
  assert.match(r.stdout, /config\/demo\.json: valid \(3 integrations, 4 destinations/);
});

Deno.test("check counts one of a kind in the singular", async () => {
  await using dir = await tempDir({ prefix: "cli-check-" });
  const file = `${dir.path}/one.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      kv: { path: ":memory:" },
      environments: [{ id: "development", type: "development" }],
      integrations: [{
        id: "feed",
        environment: "development",
        mllp: { port: 0, allowedIps: ["127.0.0.1"] },
      }],
      destinations: [{
        id: "out",
        environment: "development",
        mllp: { host: "127.0.0.1", port: 9 },
      }],
      subscriptions: [{ id: "s", from: { integration: "feed" }, to: ["out"] }],
    }),
  );
  const r = await run(["check", file]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /: valid \(1 integration, 1 destination, 1 subscription\)/);
});

Deno.test("check lists every problem with its JSON path and exits non-zero, without a stack trace", async () => {
  await using dir = await tempDir({ prefix: "cli-check-" });
  const file = `${dir.path}/bad.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      admin: { token: { env: "SURELY_UNSET_TOKEN" } },
      integrations: [{
        id: "x",
        environment: "development",
        mllp: { port: "9960", allowedIps: [] },
      }],
    }),
  );
  const r = await run(["check", file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\$\.admin\.token: environment variable SURELY_UNSET_TOKEN is not set/);
  assert.match(r.stderr, /\$\.integrations\[0\]\.mllp\.port: /);
  assert.match(r.stderr, /\$\.integrations\[0\]\.mllp\.allowedIps: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});

Deno.test("serve refuses a wrong config with the problem list and no stack trace", async () => {
  const r = await run(["serve", "--config", "does/not/exist.json"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read does\/not\/exist\.json: no such file/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

Deno.test("serve names a KV file it cannot open, without a stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "badkv-" });
  try {
    // The KV's folder is a regular file, so the store cannot be created.
    await Deno.writeTextFile(`${dir}/occupied`, "");
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({
        kv: { path: `${dir}/occupied/engine.kv` },
        http: { port: 0, development: true },
      }),
    );
    const r = await run(["serve", "--config", `${dir}/config.json`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^cannot start the engine \(kv .*occupied\/engine\.kv\): /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unknown command and bad arguments print usage and exit 2", async () => {
  const r = await run(["frobnicate"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /usage:/);
  const s = await run(["send", "nohostport", "x.hl7"]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /expected HOST:PORT/);
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /name a command\nusage:/);
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage:/);
});

Deno.test("send splits a batch file, prints each ACK from listen, and exits non-zero on AE", async () => {
  // Chosen ahead, not 0: `main.ts listen` (a child process) binds the port it is given.
  const port = freePort();
  const receiver = spawn(["listen", String(port)]);
  try {
    await readUntil(receiver.stdout, /listening for MLLP/);
    const ok = await run(["send", `127.0.0.1:${port}`, "config/samples/lab_batch.hl7"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /#1 DEMO0002: AA/);
    assert.match(ok.stdout, /#2 DEMO0003: AA/);
  } finally {
    receiver.kill("SIGTERM");
    await receiver.status;
    await receiver.stdout.cancel().catch(() => {});
    await receiver.stderr.cancel();
  }
  const port2 = freePort();
  const nacker = spawn(["listen", String(port2), "--reply", "AE"]);
  try {
    await readUntil(nacker.stdout, /answering AE/);
    const bad = await run(["send", `127.0.0.1:${port2}`, "config/samples/adt_a01.hl7"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /DEMO0001: AE/);
  } finally {
    nacker.kill("SIGTERM");
    await nacker.status;
    await nacker.stdout.cancel().catch(() => {});
    await nacker.stderr.cancel();
  }
});

Deno.test("send exits non-zero when nobody answers within the timeout", async () => {
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (silent.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of silent) held.push(c);
  })();
  try {
    const r = await run([
      "send",
      `127.0.0.1:${port}`,
      "config/samples/adt_a01.hl7",
      "--timeout",
      "0.5",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /DEMO0001: TIMEOUT/);
  } finally {
    silent.close();
    for (const c of held) c.close();
    await accepting.catch(() => {});
  }
});

Deno.test("send reports a refused connection clearly", async () => {
  // Nothing listens there: a port free a moment ago is the best a test can name.
  const port = freePort();
  const r = await run(["send", `127.0.0.1:${port}`, "config/samples/adt_a01.hl7"]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`send: cannot connect to 127\\.0\\.0\\.1:${port}: .*refused`, "i"),
  );
});

Deno.test("send names a missing or empty file and sends nothing before connecting", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const accepting = (async () => {
    for await (const conn of listener) {
      connections++;
      conn.close();
    }
  })();
  const empty = await Deno.makeTempFile({ prefix: "cli-send-", suffix: ".hl7" });
  try {
    const target = `127.0.0.1:${listener.addr.port}`;
    const missing = await run(["send", target, "config/samples/adt_a01.hl7", "no/such.hl7"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /send: cannot read no\/such\.hl7: no such file/);
    await Deno.writeTextFile(empty, "not hl7 at all\n");
    const blank = await run(["send", target, empty]);
    assert.equal(blank.code, 1);
    assert.match(blank.stderr, /no HL7 message \(no MSH segment\) found/);
    assert.equal(connections, 0);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    await Deno.remove(empty);
  }
});

/** A real MLLP receiver on loopback that keeps each frame's bytes and answers with `answer`. */
function byteReceiver(answer: (payload: Uint8Array) => string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Uint8Array[] = [];
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
            received.push(e.payload);
            await conn.write(encodeMllp(new TextEncoder().encode(answer(e.payload))));
          }
        }
      })().catch(() => {}).finally(() => conn.close());
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
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

const ackOf = (payload: Uint8Array) =>
  buildAck(parseHl7(new TextDecoder("latin1").decode(payload)), { code: "AA" }).encode();

Deno.test("send delivers each message exactly as in the file, final CR kept, in the file's charset", async () => {
  const receiver = byteReceiver(ackOf);
  const dir = await Deno.makeTempDir({ prefix: "cli-" });
  try {
    const one = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01^ADT_A01|C1|P|2.5.1\rEVN|A01\rPID|1||P1\r";
    const two = "MSH|^~\\&|A|B|C|D|20240101||ADT^A08^ADT_A01|C2|P|2.5.1\rPID|1||P2\r";
    await Deno.writeTextFile(`${dir}/cr.hl7`, one + two);
    // The same messages with LF line ends (a file edited as text): sent with CR.
    await Deno.writeTextFile(`${dir}/lf.hl7`, (one + two).replaceAll("\r", "\n"));
    // ISO 8859-1, declared in MSH-18: the bytes go out as they are, not re-encoded as UTF-8.
    const latin = "MSH|^~\\&|A|B|C|D|20240101||ADT^A08^ADT_A01|C3|P|2.5.1|||||8859/1\r" +
      "PID|1||P3||M\xdcLLER^REN\xc9\r";
    const latinBytes = Uint8Array.from(latin, (c) => c.charCodeAt(0));
    await Deno.writeFile(`${dir}/latin.hl7`, latinBytes);
    const r = await run([
      "send",
      `127.0.0.1:${receiver.port}`,
      `${dir}/cr.hl7`,
      `${dir}/lf.hl7`,
      `${dir}/latin.hl7`,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const text = new TextEncoder();
    assert.deepEqual(receiver.received, [
      text.encode(one),
      text.encode(two),
      text.encode(one),
      text.encode(two),
      latinBytes,
    ]);
    assert.match(r.stdout, /cr\.hl7 #1 C1: AA\n/);
    assert.match(r.stdout, /latin\.hl7 #1 C3: AA\n/);
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("send labels a refusal with the message's MSH-10 and prints its reason unescaped", async () => {
  // The receiver cannot parse the message (a bad segment ID) and says so with an HL7-escaped `|`.
  const receiver = byteReceiver((payload) =>
    buildNakForUnparsable({
      reason: "segment p1d|x: no valid segment ID",
      raw: new TextDecoder().decode(payload),
      errorCode: "100",
    }).encode()
  );
  const dir = await Deno.makeTempDir({ prefix: "cli-" });
  try {
    await Deno.writeTextFile(
      `${dir}/bad.hl7`,
      "MSH|^~\\&|A|B|C|D|20240101||ADT^A01^ADT_A01|BAD7|P|2.5.1\rp1d|x\r",
    );
    const r = await run(["send", `127.0.0.1:${receiver.port}`, `${dir}/bad.hl7`]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /bad\.hl7 #1 BAD7: AR\n/);
    assert.doesNotMatch(r.stdout, /no MSH-10/);
    assert.match(
      r.stdout,
      /\n {2}error 100 \(Segment sequence error\): segment p1d\|x: no valid segment ID\n/,
    );
    // The ACK itself is shown as it came, escapes and all.
    assert.match(r.stdout, /\n {2}ERR\|.*segment p1d\\F\\x/);
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});
