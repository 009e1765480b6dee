/**
 * The hosted SFTP server's durations are counted on the monotonic clock: a wall clock stepped
 * forward neither closes a connection holding files as idle nor ends an address's lockout (nor
 * lets a refusal be logged twice in its minute), and one stepped back does not stretch the idle
 * timeout. A real server and ssh2 client, driven by a ManualClock.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { waitFor } from "../../helpers/net.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { connectHosted, hl7, open, stat, write } from "./hosted_client.ts";
import { startHosted } from "./server_fixture.ts";

/** The fixture makes its keys with ssh-keygen. */
const sshTest = testNeeding("ssh-keygen");

const HOUR = 3_600_000;

sshTest(
  "hosted sftp: a wall clock stepped forward an hour does not close a connection holding a file as idle; stepped back two hours, it is still closed at the 10 min idle timeout",
  async () => {
    const clock = new ManualClock();
    const h = await startHosted({ clock });
    const holder = await connectHosted(h);
    try {
      let closed = false;
      holder.closed.then(() => (closed = true));
      const handle = await open(holder.sftp, "/held.hl7");
      await write(holder.sftp, handle, hl7("I1"));
      // The idle check runs every 30 s (a quarter of 10 min, at most 30 s).
      const check = async (what: string) => {
        const next = clock.monotonic() + 30_000;
        await waitFor(`the idle check asleep (${what})`, () => clock.nextWake === next);
        clock.advance(30_000);
        await waitFor(`the idle check done (${what})`, () => clock.nextWake === next + 30_000);
      };
      clock.stepWall(HOUR);
      await check("after the forward step");
      assert.equal(h.lines("sftp-server.idle-closed").length, 0);
      assert.equal(closed, false);
      await stat(holder.sftp, "/"); // a request: the idle period starts afresh

      clock.stepWall(-2 * HOUR);
      for (let i = 1; i < 20; i++) await check(`${i * 30} s idle`);
      assert.equal(h.lines("sftp-server.idle-closed").length, 0, "closed before 10 min");
      await check("600 s idle");
      await waitFor("the idle connection closed", () => closed);
      const idle = h.lines("sftp-server.idle-closed");
      assert.equal(idle.length, 1);
      assert.match(idle[0]!, /handles=1 reason="no request for 600 s while holding 1 open/);
    } finally {
      await holder.end();
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp: a wall clock stepped forward an hour does not end a 1 min lockout, nor log its refusal twice within the minute",
  async () => {
    const clock = new ManualClock();
    const h = await startHosted({ clock, maxFailedLoginsPerIp: 1, lockoutMs: 60_000 });
    try {
      await assert.rejects(connectHosted(h, { key: h.stranger }));
      await waitFor("the failure counted", () => h.lines("sftp-server.login-failed").length === 1);
      await assert.rejects(connectHosted(h));
      assert.equal(h.lines("sftp-server.refused").length, 1);
      clock.stepWall(HOUR);
      await assert.rejects(connectHosted(h));
      assert.equal(h.lines("sftp-server.refused").length, 1, "logged twice within a minute");
      clock.advance(60_000);
      const alice = await connectHosted(h);
      await alice.end();
      assert.match(h.lines("sftp-server.refused")[0]!, /1 failed logins; refused for 1 min/);
    } finally {
      await h.stop();
    }
  },
);
