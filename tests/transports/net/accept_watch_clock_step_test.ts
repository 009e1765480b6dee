/**
 * The accept watch measures how long a listener was stalled on the monotonic clock: a wall clock
 * stepped back an hour while the listener is replaced is not counted in `stalledMs`. A real
 * server with a scripted accept queue, a ManualClock stepped when the stall is logged.
 * @module
 */

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { type Logger, memoryLogger } from "../../../actors/runtime/log.ts";
import { watchAccepts } from "../../../transports/net/accept_watch.ts";
import { waitFor } from "../../helpers/net.ts";

Deno.test("accept watch: a stall's stalledMs is monotonic time, not the wall clock stepped back an hour meanwhile", async () => {
  const server = createServer((socket) => socket.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  const clock = new ManualClock();
  const lines = memoryLogger();
  // 1.5 s pass and the wall clock steps back an hour between the stall and the new listener.
  const log: Logger = {
    debug: (event, fields) => lines.debug(event, fields),
    info: (event, fields) => lines.info(event, fields),
    warn: (event, fields) => lines.warn(event, fields),
    error: (event, fields) => {
      if (event === "test.accept-stalled") {
        clock.advance(1_500);
        clock.stepWall(-3_600_000);
      }
      lines.error(event, fields);
    },
  };
  let waiting = 2; // a queue at every look and no connection taken: a dead accept loop
  const watch = watchAccepts({
    server,
    hostname: "127.0.0.1",
    port,
    name: "test",
    log,
    intervalMs: 20,
    acceptQueue: () => waiting,
    openFiles: () => ({ exhausted: true }), // out of descriptors: the accept loop died
    clock,
  });
  try {
    await waitFor("the listener replaced", () => watch.restarts === 1);
    waiting = 0;
    const restored = lines.lines.filter((l) => l.includes("test.accept-restored"));
    assert.equal(restored.length, 1);
    assert.match(restored[0]!, /WARN {2}test\.accept-restored port=\d+ stalledMs=1500$/);
  } finally {
    watch.stop();
    await new Promise((resolve) => server.close(resolve));
  }
});
