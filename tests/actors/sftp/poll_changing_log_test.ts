/**
 * The SFTP poller's `sftp.file-changing` lines for a file whose reads always go past its listed
 * size (an endless or lying server file; npm ssh2's server, scripted in `hostile_sftpd.ts`): one
 * line for the file as listed, then at most one an hour with the polls not logged in between,
 * not one per poll for ever. The file still waits for the next poll, the newer files are still
 * taken, and a file listed with another size or time is news, logged at once.
 */

import assert from "node:assert/strict";
import { hl7File, withHostileSftpd } from "./hostile_sftpd.ts";
import { pollOnce, startPoll } from "./poll_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { CHANGING_RELOG_MS } from "../../../actors/sftp/poll_troubles.ts";

/** npm ssh2's server as the peer: ssh-keygen makes its host key and the poller's key. */
const keyTest = testNeeding("ssh-keygen");

const T0 = 1_700_000_000;

keyTest(
  "sftp poller: a file whose reads always go past its listed size is logged once as listed, then at most hourly with the polls not logged, the newer files still taken",
  async () => {
    await withHostileSftpd({
      "old.hl7": hl7File("OLD1", T0),
      "new1.hl7": hl7File("NEW1", T0 + 100),
    }, async (server) => {
      server.behaviour.endless.add("in/old.hl7");
      const p = await startPoll(server.sshd, { maxFileBytes: 4 * 1024 * 1024 });
      const changing = () => p.lines("sftp.file-changing");
      try {
        const poll = async () => {
          const summary = await pollOnce(p);
          assert.ok(summary, `the poll failed: ${(await p.actor.status()).lastError}`);
          assert.equal(summary.waiting, 1, "the endless file waits for the next poll");
          assert.equal(summary.movedToError, 0);
          return summary;
        };
        assert.equal((await poll()).taken, 1);
        assert.equal(changing().length, 1);
        assert.ok(changing()[0]!.includes("file=in/old.hl7"), changing()[0]);
        assert.ok(!changing()[0]!.includes("unloggedPolls"), changing()[0]);

        // Four more polls within the hour, a newer file arriving meanwhile: no more lines.
        server.files.set("in/new2.hl7", hl7File("NEW2", T0 + 200));
        for (let i = 0; i < 4; i++) {
          p.clock.advance(60_000);
          await poll();
        }
        assert.equal(changing().length, 1);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["NEW1", "NEW2"]);
        assert.ok(server.files.has("in/old.hl7"), "the endless file stays where it is");

        // An hour after its line: one more, counting the polls not logged since.
        p.clock.advance(CHANGING_RELOG_MS - 4 * 60_000);
        await poll();
        assert.equal(changing().length, 2);
        assert.ok(changing()[1]!.includes("unloggedPolls=4"), changing()[1]);
        p.clock.advance(60_000);
        await poll();
        assert.equal(changing().length, 2);

        // Listed with another time (touched): news, logged at once.
        server.files.get("in/old.hl7")!.mtime = T0 + 300;
        await poll();
        assert.equal(changing().length, 3);
        assert.ok(!changing()[2]!.includes("unloggedPolls"), changing()[2]);
        await poll();
        assert.equal(changing().length, 3);

        // Its reads end at last: taken at the next poll, whole.
        server.behaviour.endless.delete("in/old.hl7");
        const last = await pollOnce(p);
        assert.deepEqual(last && [last.taken, last.waiting], [1, 0]);
        assert.ok(server.files.has("in/archive/old.hl7"));
        assert.equal(p.lines("sftp.poll-failed").length, 0);
      } finally {
        await p.close();
      }
    });
  },
);
