/**
 * Run by connect_out_of_files_test.ts under `ulimit -n 64`: starts the outbound MLLP socket
 * thread (a first connection to a local listener), takes every file descriptor left, connects to
 * `Deno.args[0]` (a host name) through the thread, frees the descriptors, and prints one JSON
 * line: `{ error }`, what the failed connect said ("connected" if it did not fail).
 * @module
 */

import { ThreadMllpConnector } from "../../../transports/mllp/thread_connector.ts";

// Deno's signal machinery opens a descriptor the first time: take it while there are some.
Deno.addSignalListener("SIGUSR2", () => {});

const connector = new ThreadMllpConnector();
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const accepted = listener.accept();
const first = await connector.connect(
  { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
  { timeoutMs: 5_000, signal: new AbortController().signal },
);
const server = await accepted;
first.close();
// Closed on the thread too (its descriptor free) before the descriptors are taken.
while (await server.read(new Uint8Array(16)) !== null) { /* nothing is sent */ }
server.close();
const port = (listener.addr as Deno.NetAddr).port; // listening still: "localhost" would connect

const files: Deno.FsFile[] = [];
try {
  for (let i = 0; i < 1_000; i++) files.push(Deno.openSync("/dev/null"));
} catch { /* out of descriptors, as meant */ }
let error = "connected";
try {
  const conn = await connector.connect({ host: Deno.args[0]!, port }, {
    timeoutMs: 3_000,
    signal: new AbortController().signal,
  });
  conn.close();
} catch (e) {
  error = (e as Error).message;
}
for (const file of files) file.close();
listener.close();
connector.close();
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify({ error }) + "\n"));
