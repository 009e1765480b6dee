/**
 * The ssh2 SFTP session's request timeout is counted on the monotonic clock: a wall clock stepped
 * forward an hour does not close a session whose server answered a moment ago, and one stepped
 * back does not stretch the wait for a silent server by the step. A fake ssh2 SFTP channel
 * answered when the test says, and a ManualClock.
 */

import assert from "node:assert/strict";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { SftpDeadlineError } from "../../../actors/sftp/bounded_session.ts";
import { SshSftpSession } from "../../../transports/sftp/client_session.ts";
import { waitFor } from "../../helpers/net.ts";

type Callback = (err: Error | undefined, value?: unknown) => void;

/** A session over a fake channel whose STATs wait in `stats` until answered. */
function fakeSession(clock: ManualClock, requestTimeoutMs: number) {
  const stats: Callback[] = [];
  let ended = 0;
  const client = { on: () => client, end: () => void ended++ };
  const sftp = { on: () => sftp, stat: (_path: string, cb: Callback) => void stats.push(cb) };
  const session = new SshSftpSession(
    client as unknown as ssh2.Client,
    sftp as unknown as ssh2.SFTPWrapper,
    undefined,
    { clock, requestTimeoutMs },
  );
  return {
    session,
    stats,
    get ended() {
      return ended;
    },
  };
}

/** What a promise came to, as far as it got by now. */
function track<T>(promise: Promise<T>) {
  const seen: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then((value) => Object.assign(seen, { value, done: true }), (error) => {
    Object.assign(seen, { error, done: true });
  });
  return seen;
}

Deno.test(
  "ssh sftp session: a wall clock stepped forward an hour does not close a session answered 0.1 s ago; one stepped back two hours does not stretch a silent server's 1 s timeout",
  async () => {
    const clock = new ManualClock();
    const fake = fakeSession(clock, 1000);
    const first = track(fake.session.stat("in/a.hl7"));
    const second = track(fake.session.stat("in/b.hl7"));
    await waitFor("both asked", () => fake.stats.length === 2);
    clock.advance(900);
    fake.stats[0]!(undefined, { size: 1, mode: 0o100644 });
    await waitFor("the first answered", () => first.done);
    clock.stepWall(3_600_000);
    // The watchdog wakes at 1 s, finds the last answer 0.1 s old and sleeps 0.9 s more.
    clock.advance(100);
    await waitFor(
      "the watchdog asleep again",
      () => clock.pending === 1 && clock.nextWake === clock.monotonic() + 900,
    );
    assert.equal(second.done, false, "the waiting stat failed");
    assert.equal(fake.session.open, true);
    fake.stats[1]!(undefined, { size: 2, mode: 0o100644 });
    await waitFor("the second answered", () => second.done);
    assert.equal(second.error, undefined);
    assert.equal(fake.ended, 0);
    assert.equal(clock.pending, 0);

    // Stepped back two hours while a stat waits: it still fails at 1 s, not 2 h later.
    const silent = track(fake.session.stat("in/c.hl7"));
    clock.stepWall(-7_200_000);
    clock.advance(999);
    assert.equal(silent.done, false);
    clock.advance(1);
    await waitFor("the silent stat failed", () => silent.done);
    assert.ok(silent.error instanceof SftpDeadlineError);
    assert.equal(
      (silent.error as Error).message,
      "the SFTP server did not answer within 1 s (stat in/c.hl7); session closed",
    );
    assert.equal(fake.ended, 1);
    assert.equal(fake.session.open, false);
  },
);
