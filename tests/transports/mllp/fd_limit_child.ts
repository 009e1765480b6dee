/**
 * Run under a low open-files limit (`ulimit -n`) by the listener tests: an MLLP listener on
 * loopback answering AA. Prints `port=N` once bound, then `accepting=true|false` whenever the
 * listener's accepting state changes; its log goes to stderr. Ends when stdin closes.
 * @module
 */

import { createLogger } from "../../../actors/runtime/log.ts";
import { serveMllp } from "../../../transports/mllp/server.ts";
import { ackInbox } from "./peers.ts";

const server = await serveMllp({
  port: 0,
  hostname: "127.0.0.1",
  inbox: ackInbox(),
  log: createLogger({ level: "info" }),
});
const encoder = new TextEncoder();
const print = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
print(`port=${server.port}`);
let last = server.accepting;
print(`accepting=${last}`);
const poll = setInterval(() => {
  if (server.accepting !== last) {
    last = server.accepting;
    print(`accepting=${last}`);
  }
}, 5);
// The parent closes stdin to stop this process.
for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
clearInterval(poll);
await server.close();
