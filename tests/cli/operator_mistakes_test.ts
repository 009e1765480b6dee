/**
 * The command line facing an operator's mistakes: `listen` on a port in use, `send` of a message
 * the peer refuses with an AR it cannot correlate (empty MSA-2), `check` saying which KV file a
 * relative `kv.path` opens, refusing a TLS key that does not match its certificate, reading a
 * config saved with a BOM and warning about a secret file others can read; `serve` accepting an
 * admin token file written with `echo` and logging the absolute KV path at start.
 * @module
 */

import assert from "node:assert/strict";
import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";
import { freePort } from "../helpers/net.ts";
import { tempDir } from "../helpers/temp.ts";
import { makePki } from "../helpers/tls.ts";
import { readUntil } from "../helpers/child_output.ts";

const root = new URL("../../", import.meta.url).pathname;
const DEADLINE_MS = 60_000;

async function run(args: string[], cwd = root) {
  const deadline = AbortSignal.timeout(DEADLINE_MS);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}main.ts`, ...args],
    cwd,
    // Empty, not inherited: another test file in this process may have set it.
    env: { NO_COLOR: "1", DENO_KV_ACCESS_TOKEN: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: deadline,
  }).output();
  const dec = new TextDecoder();
  assert.ok(!deadline.aborted, `main.ts ${args.join(" ")} still ran after ${DEADLINE_MS} ms`);
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const AR_EMPTY_MSA2 = "MSH|^~\\&|||||20240101||ACK|R1|P|2.5.1\rMSA|AR||message larger than the " +
  "limit of 1000 bytes; connection closed\rERR|||104^Value too long^HL70357|E\r";

/**
 * A peer that refuses a message it cannot read whole: after `readBytes` bytes (or the whole
 * frame, when 0) it answers an AR with an empty MSA-2, as the engine does over its size limit,
 * and closes.
 */
function refusingPeer(readBytes: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      const decoder = new MllpDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
      const buf = new Uint8Array(65536);
      let total = 0;
      reading: while (true) {
        const n = await conn.read(buf);
        if (n === null) return;
        total += n;
        if (readBytes > 0 && total >= readBytes) break;
        for (const e of decoder.push(buf.slice(0, n))) if (e.type === "frame") break reading;
      }
      await conn.write(encodeMllp(new TextEncoder().encode(AR_EMPTY_MSA2)));
    } finally {
      conn.close();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await served;
    },
  };
}

async function messageFile(dir: string, bodyBytes: number): Promise<string> {
  const file = `${dir}/big.hl7`;
  await Deno.writeTextFile(
    file,
    `MSH|^~\\&|A|B|C|D|20240101||ORU^R01|BIG1|P|2.5.1\rOBX|1|TX|||${"x".repeat(bodyBytes)}\r`,
  );
  return file;
}

Deno.test("listen on a port in use says so in one line and exits 1", async () => {
  using held = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const port = (held.addr as Deno.NetAddr).port;
  const r = await run(["listen", String(port)]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr.trim(),
    `listen: port ${port} on 0.0.0.0 is in use (another program listens there): ` +
      "stop it or choose another port",
  );
});

Deno.test("send prints the AR a peer sends with an empty MSA-2 for a refused message, and exits 1", async () => {
  await using dir = await tempDir({ prefix: "cli-send-ar-" });
  const file = await messageFile(dir.path, 5000);
  const peer = refusingPeer(0);
  try {
    const r = await run(["send", `127.0.0.1:${peer.port}`, file, "--timeout", "20"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /big\.hl7 #1 BIG1: AR\n/);
    assert.match(r.stdout, /error 104 \(Value too long\): message larger than the limit of 1000/);
    assert.doesNotMatch(r.stdout, /CLOSED/);
  } finally {
    await peer.close();
  }
});

Deno.test("send prints the AR of a peer that refuses a large message mid-write and closes", async () => {
  await using dir = await tempDir({ prefix: "cli-send-midwrite-" });
  const file = await messageFile(dir.path, 16 * 1024 * 1024);
  const peer = refusingPeer(256 * 1024);
  try {
    const r = await run(["send", `127.0.0.1:${peer.port}`, file, "--timeout", "20"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /big\.hl7 #1 BIG1: AR\n/, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /Bad resource|\n\s+at /);
  } finally {
    await peer.close();
  }
});

Deno.test("check prints the absolute KV path a relative kv.path opens, from the working directory", async () => {
  await using dir = await tempDir({ prefix: "cli-check-kv-" });
  const cwd = await Deno.realPath(dir.path);
  await Deno.mkdir(`${cwd}/conf`);
  await Deno.writeTextFile(`${cwd}/conf/c.json`, JSON.stringify({ kv: { path: "./data/e.kv" } }));
  const r = await run(["check", "conf/c.json"], cwd);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      `\n  kv: ${cwd}/data/e\\.kv \\(kv\\.path "\\./data/e\\.kv" is relative to the working ` +
        `directory ${cwd}, not to the config's folder\\)\n`,
    ),
  );
  await Deno.writeTextFile(`${cwd}/conf/c.json`, JSON.stringify({ kv: { path: "/srv/e.kv" } }));
  const absolute = await run(["check", "conf/c.json"], cwd);
  assert.match(absolute.stdout, /\n {2}kv: \/srv\/e\.kv\n/);
});

Deno.test("check refuses a TLS key that does not match its certificate, as serve would", async () => {
  const pki = await makePki();
  try {
    const file = `${pki.dir}/c.json`;
    const config = (key: string) => ({
      http: { port: 8443, tls: { cert: { file: "server.crt" }, key: { file: key } } },
    });
    await Deno.writeTextFile(file, JSON.stringify(config("ca.key")));
    const r = await run(["check", file]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /\$\.http\.tls: the certificate and key do not load together: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    await Deno.writeTextFile(file, JSON.stringify(config("server.key")));
    const ok = await run(["check", file]);
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("check reads a config saved with a UTF-8 BOM and warns about a secret file others can read", async () => {
  await using dir = await tempDir({ prefix: "cli-check-bom-" });
  const token = `${dir.path}/admin.secret`;
  await Deno.writeTextFile(token, "tok-0123456789abcdef\n");
  await Deno.chmod(token, 0o644);
  const file = `${dir.path}/c.json`;
  const json = JSON.stringify({ admin: { token: { file: "admin.secret" } } });
  await Deno.writeFile(file, new TextEncoder().encode(`\uFEFF${json}`));
  const r = await run(["check", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /c\.json: valid/);
  assert.equal(
    r.stderr.trim(),
    `${file}: warning: secret file admin.secret has mode 0644: it can be read by group or ` +
      "others (chmod 600 admin.secret)",
  );
});

Deno.test("serve takes an admin token file written with echo, and logs the absolute KV path", async () => {
  await using dir = await tempDir({ prefix: "cli-serve-token-" });
  const cwd = await Deno.realPath(dir.path);
  const token = "tok-0123456789abcdef";
  await Deno.writeTextFile(`${cwd}/admin.secret`, `${token}\n`, { mode: 0o600 });
  await Deno.mkdir(`${cwd}/data`);
  const port = freePort();
  await Deno.writeTextFile(
    `${cwd}/c.json`,
    JSON.stringify({
      node: { id: "cli-token" },
      kv: { path: "./data/e.kv" },
      http: { port, hostname: "127.0.0.1", development: true },
      admin: { token: { file: "admin.secret" } },
    }),
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}main.ts`, "serve", "--config", "c.json"],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    // Logged once the start succeeded (after the HTTP server is up).
    const log = await readUntil(child.stderr, /engine\.kv-path[^\n]*\n/, DEADLINE_MS);
    const res = await fetch(`http://127.0.0.1:${port}/admin/actors`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body?.cancel();
    assert.equal(res.status, 200, "the token without its line end is the admin token");
    assert.match(log, new RegExp(`engine\\.kv-path path=${cwd}/data/e\\.kv configured=`));
    assert.doesNotMatch(log, /secret-file-mode/, "0600 is not warned about");
  } finally {
    child.kill("SIGTERM");
    await child.stderr.cancel().catch(() => {});
    await child.status;
  }
});

Deno.test("check refuses a KV Connect URL without an access token, naming the field", async () => {
  await using dir = await tempDir({ prefix: "cli-check-kvurl-" });
  const file = `${dir.path}/c.json`;
  await Deno.writeTextFile(file, JSON.stringify({ kv: { path: "https://kv.example.org/db" } }));
  const r = await run(["check", file]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /\$\.kv\.accessToken: a KV Connect URL needs an access token/);
});
