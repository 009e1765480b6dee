/**
 * The SFTP poller against a server that never stops sending (npm ssh2's server, scripted in
 * `hostile_sftpd.ts`): a file whose reads past its end keep answering data (a file that keeps
 * growing, a broken server), and a listing of huge names. Neither may hold the poll, nor cost
 * memory without bound: the growing file waits for a later poll while the newer files are taken,
 * and names over 1,024 characters are left out and logged once. Nor may a listed name that no file
 * of the folder can have (a `/`, NUL, CR or LF in it) be opened or archived.
 */

import assert from "node:assert/strict";
import { hl7File, withHostileSftpd } from "./hostile_sftpd.ts";
import { pollOnce, startPoll } from "./poll_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { MAX_LISTED_NAME_LENGTH } from "../../../actors/sftp/poll_actor.ts";

/** npm ssh2's server as the peer: ssh-keygen makes its host key and the poller's key. */
const keyTest = testNeeding("ssh-keygen");

const T0 = 1_700_000_000;

keyTest(
  "sftp poller: a file that never stops growing waits for a later poll, neither moved to the error folder nor holding the newer files",
  async () => {
    await withHostileSftpd({
      "old.hl7": hl7File("OLD1", T0),
      "new.hl7": hl7File("NEW1", T0 + 100),
    }, async (server) => {
      server.behaviour.endless.add("in/old.hl7");
      const p = await startPoll(server.sshd, { maxFileBytes: 4 * 1024 * 1024 });
      try {
        const first = await pollOnce(p);
        assert.ok(first, `the poll failed: ${(await p.actor.status()).lastError}`);
        assert.deepEqual(
          [first.taken, first.waiting, first.movedToError, first.notTaken],
          [1, 1, 0, 0],
        );
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["NEW1"]);
        assert.ok(server.files.has("in/old.hl7"), "the growing file stays where it is");
        assert.ok(server.files.has("in/archive/new.hl7"));
        assert.equal(p.lines("sftp.file-changing").length, 1);
        // One read past the listed size says the file grew: no more than one chunk more.
        assert.ok(server.count("OPEN in/old.hl7") === 1);
        // It grows no less at the next poll: still waiting, the poll still ends.
        const second = await pollOnce(p);
        assert.deepEqual(second && [second.waiting, second.movedToError], [1, 0]);
        assert.equal(p.lines("sftp.poll-failed").length, 0);
      } finally {
        await p.close();
      }
    });
  },
);

keyTest(
  "sftp poller: names over 1,024 characters are left out of the listing and logged once, the other files taken",
  async () => {
    await withHostileSftpd({ "a.hl7": hl7File("A1", T0) }, async (server) => {
      server.behaviour.extraNames = 30;
      server.behaviour.extraNameLength = 20_000;
      server.behaviour.namesPerAnswer = 5;
      const p = await startPoll(server.sshd);
      try {
        const first = await pollOnce(p);
        assert.ok(first, `the poll failed: ${(await p.actor.status()).lastError}`);
        assert.deepEqual([first.listed, first.taken, first.namesTooLong], [1, 1, 30]);
        const warned = p.lines("sftp.name-too-long");
        assert.equal(warned.length, 1);
        assert.ok(warned[0]!.includes("count=30"), warned[0]);
        // `in/other-000000001y…y.dat`: 20,000 characters with the folder, 20,001 without it.
        assert.ok(warned[0]!.includes("length=20001"), warned[0]);
        assert.ok(warned[0]!.length < 1000, "the log line holds the name's start only");
        assert.ok(warned[0]!.includes(`longer than ${MAX_LISTED_NAME_LENGTH} characters`));
        // Still there at the next poll: not logged again.
        const second = await pollOnce(p);
        assert.equal(second?.namesTooLong, 30);
        assert.equal(p.lines("sftp.name-too-long").length, 1);
      } finally {
        await p.close();
      }
    });
  },
);

keyTest(
  "sftp poller: listed names holding /, NUL, CR or LF are left out of the poll, never opened, and logged once",
  async () => {
    await withHostileSftpd({
      "ok.hl7": hl7File("OK1", T0),
      "a\nb.hl7": hl7File("LF1", T0 + 1),
      "c\rd.hl7": hl7File("CR1", T0 + 2),
      "n\0ul.hl7": hl7File("NUL1", T0 + 3),
      "sub/x.hl7": hl7File("DEEP1", T0 + 4),
    }, async (server) => {
      server.behaviour.listedDeep.add("in/sub/x.hl7");
      const p = await startPoll(server.sshd);
      try {
        const first = await pollOnce(p);
        assert.ok(first, `the poll failed: ${(await p.actor.status()).lastError}`);
        assert.deepEqual([first.listed, first.taken], [1, 1]);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["OK1"]);
        assert.deepEqual(server.requests.filter((r) => r.startsWith("OPEN ")), ["OPEN in/ok.hl7"]);
        assert.ok(server.files.has("in/sub/x.hl7"), "the deep file stays where it is");
        const warned = p.lines("sftp.name-refused");
        assert.equal(warned.length, 1);
        assert.ok(warned[0]!.includes("count=4"), warned[0]);
        // Still listed at the next poll: not logged again.
        await pollOnce(p);
        assert.equal(p.lines("sftp.name-refused").length, 1);
      } finally {
        await p.close();
      }
    });
  },
);
