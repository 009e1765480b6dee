/**
 * Run under a low open-files limit (`ulimit -n`) by the listener tests: an MLLP listener on
 * loopback answering AA. Prints `port=N` once bound, then `accepting=true|false` whenever the
 * listener's accepting state changes; its log goes to stderr. Ends when stdin closes.
 *
 * Deno sets up its signal handling on the first signal listener, and panics if it cannot get a
 * descriptor for it then: one is bound before the descriptors run out, as `main.ts` does at start.
 * @module
 */

import { createLogger } from "../../../actors/runtime/log.ts";
import { serveMllp } from "../../../transports/mllp/server.ts";
import { ackInbox } from "./ack_inbox.ts";

const noop = () => {};
Deno.addSignalListener("SIGUSR2", noop);
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
Deno.removeSignalListener("SIGUSR2", noop);
