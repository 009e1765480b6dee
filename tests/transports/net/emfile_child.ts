/**
 * Run by accept_watch_test.ts under `ulimit -n 64`: starts one of the engine's `node:net`-based
 * listeners (`serve`: the public HTTP server; `mllp-tls`: the MLLP TLS listener; `sftp`: the
 * hosted SFTP folder), checks it
 * answers, makes its next accept fail for want of a file descriptor, frees them all, and checks
 * whether it answers again. Prints one JSON line: `{ before, during, after, lines }`.
 * @module
 */

import { createLogger } from "../../../actors/runtime/log.ts";
import { servePublic } from "../../../transports/http/serve.ts";
import { listenMutualTls } from "../../../transports/mllp/node_tls.ts";
import { HostedSftpServer } from "../../../transports/sftp/server.ts";
import ssh2 from "ssh2";
import { makePki } from "../../helpers/tls.ts";

// Deno's signal machinery opens a descriptor the first time: take it while there are some.
Deno.addSignalListener("SIGUSR2", () => {});

const mode = Deno.args[0];
const lines: string[] = [];
const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
const WATCH_MS = 100;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let ask: (deadlineMs: number) => Promise<string>;
let stop: () => Promise<void>;
if (mode === "serve") {
  const server = await servePublic({
    fetch: () => new Response("ok"),
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log,
    acceptWatchIntervalMs: WATCH_MS,
  });
  ask = (deadlineMs) =>
    talk(
      () => Deno.connect({ port: server.port, hostname: "127.0.0.1" }),
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      deadlineMs,
    ).then((text) => text.startsWith("HTTP/1.1 200 ") ? "ok" : text);
  stop = () => server.shutdown();
} else if (mode === "mllp-tls") {
  const pki = await makePki();
  const listener = await listenMutualTls({
    port: 0,
    hostname: "127.0.0.1",
    cert: pki.serverCert,
    key: pki.serverKey,
    ca: pki.caCert,
    requireClientCert: false,
    log,
    acceptWatchIntervalMs: WATCH_MS,
  });
  const port = (listener.addr as Deno.NetAddr).port;
  (async () => {
    while (true) {
      const conn = await listener.accept().catch(() => undefined);
      if (!conn) return;
      conn.write(encoder.encode("ok")).then(() => conn.close()).catch(() => conn.close());
    }
  })();
  ask = (deadlineMs) =>
    talk(
      () => Deno.connectTls({ port, hostname: "127.0.0.1", caCerts: [pki.caCert] }),
      "",
      deadlineMs,
    );
  stop = async () => {
    listener.close();
    await Deno.remove(pki.dir, { recursive: true });
  };
} else if (mode === "sftp") {
  const root = await Deno.makeTempDir({ prefix: "emfile-sftp-" });
  const server = await HostedSftpServer.start({
    hostname: "127.0.0.1",
    port: 0,
    hostKey: ssh2.utils.generateKeyPairSync("ed25519").private,
    root,
    users: [],
    maxConnectionsPerIp: 10,
    maxFailedLoginsPerIp: 5,
    maxFileBytes: 1024,
    onUpload: () => Promise.resolve(),
    holdBack: () => false,
    log,
    rescanIntervalMs: 0,
    acceptWatchIntervalMs: WATCH_MS,
  });
  // The server speaks first: its SSH identification line is the answer.
  ask = (deadlineMs) =>
    talk(
      () => Deno.connect({ port: server.port, hostname: "127.0.0.1" }),
      "",
      deadlineMs,
      "SSH-2.0-",
    ).then((text) => text.startsWith("SSH-2.0-") ? "ok" : text);
  stop = async () => {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  };
} else throw new Error(`unknown mode ${mode}`);

/**
 * Connects, sends `request` (when not empty), reads to the end or until the answer holds `until`;
 * "no answer" past the deadline.
 */
async function talk(
  open: () => Promise<Deno.Conn>,
  request: string,
  deadlineMs: number,
  until?: string,
): Promise<string> {
  let conn: Deno.Conn | undefined;
  const timer = setTimeout(() => conn?.close(), deadlineMs);
  let text = "";
  try {
    conn = await open();
    if (request) await conn.write(encoder.encode(request));
    const buf = new Uint8Array(4096);
    while (until === undefined || !text.includes(until)) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
    }
    conn.close();
    return text;
  } catch (error) {
    try {
      conn?.close();
    } catch { /* closed by the deadline */ }
    // A TLS peer that closes without close_notify fails the read after its answer.
    return text || `no answer (${(error as Error).name})`;
  } finally {
    clearTimeout(timer);
  }
}

const before = await ask(5_000);
// Every descriptor but one taken: the client's socket takes that one, the server's accept fails.
const files: Deno.FsFile[] = [];
try {
  for (let i = 0; i < 1_000; i++) files.push(Deno.openSync("/dev/null"));
} catch { /* out of descriptors, as meant */ }
files.pop()?.close();
const during = await ask(300);
for (const file of files) file.close();
// A client waiting in the dead socket's queue is reset when the listener is replaced: a client
// tries again, as this one does, for up to 10 s.
let after = "";
const until = Date.now() + 10_000;
while (after !== "ok" && Date.now() < until) after = await ask(1_000);
await stop();
Deno.stdout.writeSync(
  new TextEncoder().encode(JSON.stringify({ before, during, after, lines }) + "\n"),
);
