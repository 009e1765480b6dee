/**
 * The SFTP poller against a counterparty's server that misbehaves (npm ssh2's server, scripted in
 * `hostile_sftpd.ts`): a file it lists but will not hand over, a file gone between list and open,
 * a too-large file it will not let go to the error folder — each skipped, logged once, shown in
 * the status, while the other files are taken oldest first; and a read-only share, where a file
 * stored but left in place is never ingested again while it stays unchanged.
 */

import assert from "node:assert/strict";
import { keys } from "../../../actors/store/keys.ts";
import { hl7File, readOnlyText, withHostileSftpd } from "./hostile_sftpd.ts";
import { type Poll, pollOnce, startPoll } from "./poll_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";

/** npm ssh2's server as the peer: ssh-keygen makes its host key and the poller's key. */
const keyTest = testNeeding("ssh-keygen");

const T0 = 1_700_000_000;

interface Trouble {
  file: string;
  reason: string;
  since: number;
  polls: number;
}

/** `detail[field]` of the poller's status: files it could not take, or left in place. */
async function troubles(p: Poll, field: "notTaken" | "leftInPlace") {
  const detail = (await p.actor.status()).detail as Record<string, unknown>;
  return detail[field] as { count: number; files: Trouble[] } | undefined;
}

keyTest(
  "sftp poller: a listed file it may not open is skipped and logged once with its reason, shown in the status; the newer files are taken at every poll, and the file once it may be read",
  async () => {
    await withHostileSftpd({
      "old.hl7": hl7File("OLD1", T0),
      "new.hl7": hl7File("NEW1", T0 + 100),
    }, async (server) => {
      server.behaviour.denyOpen.add("in/old.hl7");
      const p = await startPoll(server.sshd);
      try {
        const first = await pollOnce(p);
        assert.ok(first, `the poll failed: ${(await p.actor.status()).lastError}`);
        assert.deepEqual([first.listed, first.taken, first.notTaken], [2, 1, 1]);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["NEW1"]);
        assert.ok(server.files.has("in/archive/new.hl7"));
        assert.ok(server.files.has("in/old.hl7"));
        assert.equal(p.lines("sftp.poll-failed").length, 0);
        const warned = p.lines("sftp.file-not-taken");
        assert.equal(warned.length, 1);
        assert.match(warned[0]!, / WARN {2}sftp\.file-not-taken /);
        assert.ok(warned[0]!.includes("file=in/old.hl7"), warned[0]);
        assert.ok(
          warned[0]!.includes('reason="open in/old.hl7: permission-denied (permission denied)"'),
          warned[0],
        );
        const status = await p.actor.status();
        assert.equal(status.lastError, undefined);
        assert.deepEqual(await troubles(p, "notTaken"), {
          count: 1,
          files: [{
            file: "in/old.hl7",
            reason: "open in/old.hl7: permission-denied (permission denied)",
            since: p.clock.now(),
            polls: 1,
          }],
        });

        // Next poll: the same file still refused (not logged again), a newer one taken.
        server.files.set("in/newer.hl7", hl7File("NEW2", T0 + 200));
        const since = p.clock.now();
        p.clock.advance(60_000);
        const second = await pollOnce(p);
        assert.deepEqual(second && [second.taken, second.notTaken], [1, 1]);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["NEW1", "NEW2"]);
        assert.equal(p.lines("sftp.file-not-taken").length, 1, "logged at every poll");
        assert.equal(server.count("OPEN in/old.hl7"), 2, "not tried again");
        const kept = await troubles(p, "notTaken");
        assert.deepEqual(kept?.files.map((f) => [f.file, f.since, f.polls]), [
          ["in/old.hl7", since, 2],
        ]);

        // The counterparty fixes the permission: the file is taken, and no longer listed.
        server.behaviour.denyOpen.clear();
        const third = await pollOnce(p);
        assert.deepEqual(third && [third.taken, third.notTaken], [1, 0]);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), [
          "NEW1",
          "NEW2",
          "OLD1",
        ]);
        assert.equal(await troubles(p, "notTaken"), undefined);
      } finally {
        await p.close();
      }
    });
  },
);

keyTest(
  "sftp poller: a file gone between list and open and a too-large file whose move to the error folder is refused are skipped with their reasons, the others taken oldest first; a lost connection still ends the poll",
  async () => {
    await withHostileSftpd({
      "gone.hl7": hl7File("GONE", T0),
      "big.hl7": { data: new Uint8Array(5000).fill(65), mtime: T0 + 1 },
      "a.hl7": hl7File("A1", T0 + 2),
      "drop.hl7": hl7File("D1", T0 + 3),
      "b.hl7": hl7File("B1", T0 + 4),
    }, async (server) => {
      server.behaviour.vanishOnOpen.add("in/gone.hl7");
      server.behaviour.denyRename = (_from, to) => to.startsWith("in/error/");
      server.behaviour.dropOnOpen.add("in/drop.hl7");
      const p = await startPoll(server.sshd, { maxFileBytes: 1000 });
      try {
        // The connection is lost at drop.hl7: the poll ends there, as any session failure does.
        assert.equal(await pollOnce(p), undefined);
        const failed = p.lines("sftp.poll-failed");
        assert.equal(failed.length, 1);
        assert.match(failed[0]!, /open in\/drop\.hl7: connection-lost/);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["A1"]);
        const skipped = p.lines("sftp.file-not-taken");
        assert.equal(skipped.length, 2, skipped.join("\n"));
        assert.ok(skipped[0]!.includes("file=in/gone.hl7"), skipped[0]);
        assert.ok(skipped[0]!.includes("open in/gone.hl7: no-such-file"), skipped[0]);
        assert.ok(skipped[1]!.includes("file=in/big.hl7"), skipped[1]);
        assert.ok(
          skipped[1]!.includes(
            "5000 bytes, over the limit of 1000, and not moved to the error folder: " +
              `rename in/big.hl7 to in/error/big.hl7: permission-denied (${readOnlyText})`,
          ),
          skipped[1],
        );
        assert.equal(p.lines("sftp.file-too-large").length, 0, "logged as moved");

        server.behaviour.dropOnOpen.clear();
        p.clock.advance(60_000);
        const second = await pollOnce(p);
        assert.deepEqual(second && [second.taken, second.notTaken], [2, 2]);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["A1", "D1", "B1"]);
        assert.equal(p.lines("sftp.file-not-taken").length, 2, "logged again");
        assert.deepEqual(
          (await troubles(p, "notTaken"))?.files.map((f) => [f.file, f.polls]),
          [["in/gone.hl7", 2], ["in/big.hl7", 2]],
        );
        assert.equal((await p.actor.status()).lastError, undefined);

        // The error folder is writable again: the large file goes there, logged as before.
        server.behaviour.denyRename = () => false;
        const third = await pollOnce(p);
        assert.deepEqual(third && [third.movedToError, third.notTaken], [1, 1]);
        assert.equal(p.lines("sftp.file-too-large").length, 1);
        assert.ok(server.files.has("in/error/big.hl7"));
        // The vanished file really goes: nothing is left to show.
        server.files.delete("in/gone.hl7");
        const fourth = await pollOnce(p);
        assert.equal(fourth?.notTaken, 0);
        assert.equal(await troubles(p, "notTaken"), undefined);
      } finally {
        await p.close();
      }
    });
  },
);

/** The poller's durable markers of files stored but left in place, by path. */
async function markers(p: Poll): Promise<string[]> {
  const out: string[] = [];
  for await (const e of p.store.kv.list({ prefix: keys.sftpLeftFilePrefix("lab") })) {
    out.push(String(e.key.at(-1)));
  }
  return out.sort();
}

keyTest(
  "sftp poller on a read-only share: a file stored but not archived is never ingested again while unchanged, past the dedupe window and after a restart; logged once at WARN; a changed file is taken, and the marker goes with the file",
  async () => {
    await withHostileSftpd({
      "keep.hl7": hl7File("KEEP1", T0),
      "gone.hl7": hl7File("GONE1", T0 + 1),
    }, async (server) => {
      server.behaviour.denyRename = () => true;
      const p = await startPoll(server.sshd, { dedupeWindowSeconds: 60 });
      try {
        const first = await pollOnce(p);
        assert.deepEqual(first && [first.taken, first.stored, first.leftInPlace], [2, 2, 0]);
        const warned = p.lines("sftp.archive-failed");
        assert.equal(warned.length, 2);
        assert.match(warned[0]!, / WARN {2}sftp\.archive-failed .*file=in\/keep\.hl7/);
        assert.ok(warned[0]!.includes(readOnlyText), warned[0]);
        assert.deepEqual(await markers(p), ["in/gone.hl7", "in/keep.hl7"]);

        // Well past the dedupe window: not downloaded, not stored, not logged again.
        p.clock.advance(3600_000);
        const second = await pollOnce(p);
        assert.deepEqual(
          second && [second.taken, second.stored, second.duplicates, second.leftInPlace],
          [0, 0, 0, 2],
        );
        assert.equal(server.count("OPEN in/keep.hl7"), 1, "downloaded again");
        assert.equal(p.lines("sftp.archive-failed").length, 2);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["KEEP1", "GONE1"]);
        const left = await troubles(p, "leftInPlace");
        assert.equal(left?.count, 2);
        assert.deepEqual(left?.files.map((f) => [f.file, f.polls]), [
          ["in/keep.hl7", 2],
          ["in/gone.hl7", 2],
        ]);
        assert.ok(left!.files[0]!.reason.includes(readOnlyText), left!.files[0]!.reason);

        // The engine restarts (a new poller on the same KV), and the window passes again.
        p.clock.advance(3600_000);
        const restarted = p.restart();
        const third = await restarted.poll(new AbortController().signal);
        assert.deepEqual(third && [third.stored, third.leftInPlace], [0, 2]);
        assert.equal(server.count("OPEN in/keep.hl7"), 1);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["KEEP1", "GONE1"]);
        assert.equal(p.lines("sftp.archive-failed").length, 2, "logged again after the restart");

        // Touched (a new time) with the same content: read again, recognised, not stored.
        server.files.get("in/keep.hl7")!.mtime = T0 + 50;
        p.clock.advance(3600_000);
        const touched = await restarted.poll(new AbortController().signal);
        assert.deepEqual(touched && [touched.stored, touched.duplicates], [0, 0]);
        assert.equal(server.count("OPEN in/keep.hl7"), 2);
        // Changed content: a new file under the old name, taken.
        server.files.set("in/keep.hl7", hl7File("KEEP2", T0 + 60));
        // Someone else removed gone.hl7: its marker goes too.
        server.files.delete("in/gone.hl7");
        const changed = await restarted.poll(new AbortController().signal);
        assert.deepEqual(changed && [changed.stored, changed.leftInPlace], [1, 0]);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), [
          "KEEP1",
          "GONE1",
          "KEEP2",
        ]);
        assert.deepEqual(await markers(p), ["in/keep.hl7"]);
        assert.equal(p.lines("sftp.archive-failed").length, 3, "the new content's failure");

        // The share becomes writable: the file left in place is archived, its marker dropped.
        server.behaviour.denyRename = () => false;
        const cleared = await restarted.poll(new AbortController().signal);
        assert.deepEqual(cleared && [cleared.stored, cleared.leftInPlace], [0, 1]);
        assert.ok(server.files.has("in/archive/keep.hl7"));
        assert.deepEqual(await markers(p), []);
        assert.equal(p.lines("sftp.left-file-cleared").length, 1);
        assert.equal((await restarted.status()).lastError, undefined);
      } finally {
        await p.close();
      }
    });
  },
);
