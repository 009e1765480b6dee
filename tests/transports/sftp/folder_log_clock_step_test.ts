/**
 * A hosted SFTP session's refusal log keeps to 20 lines a minute, the minute counted on the
 * monotonic clock: a wall clock stepped forward an hour does not start a new minute (and let
 * another 20 lines through). A ManualClock stepped with `stepWall`.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { LINES_PER_MINUTE, SessionLog } from "../../../transports/sftp/folder_log.ts";

Deno.test("hosted sftp refusal log: a forward wall-clock step does not start a new minute of 20 lines; a minute of monotonic time does", () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 10));
  const log = memoryLogger();
  const session = new SessionLog(log, "alice", "127.0.0.1", clock);
  for (let i = 0; i < LINES_PER_MINUTE + 1; i++) session.denied("open", `/f${i}`, "no");
  assert.equal(log.lines.length, LINES_PER_MINUTE);
  clock.stepWall(3_600_000);
  session.denied("open", "/after-step", "no");
  assert.equal(log.lines.length, LINES_PER_MINUTE, "a line logged past the limit after the step");
  clock.advance(60_000);
  session.denied("open", "/next-minute", "no");
  assert.equal(log.lines.length, LINES_PER_MINUTE + 1);
  assert.match(log.lines.at(-1)!, /path=\/next-minute notLoggedBefore=2 reason=no$/);
});
