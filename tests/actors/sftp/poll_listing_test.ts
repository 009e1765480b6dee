/**
 * The SFTP poller's folder listing against a real server (npm ssh2's, scripted in
 * `hostile_sftpd.ts`): a listing that keeps coming is not cut at the request timeout (each READDIR
 * answer starts it afresh) while one that stops still is; and a folder larger than a poll lists
 * is still polled, from the entries read, with the cut logged once.
 */

import assert from "node:assert/strict";
import { MAX_LISTED_ENTRIES } from "../../../actors/sftp/poll_actor.ts";
import { waitFor } from "../../helpers/net.ts";
import { hl7File, startHostileSftpd } from "./hostile_sftpd.ts";
import { type Poll, startPoll } from "./poll_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";

/** npm ssh2's server as the peer: ssh-keygen makes its host key and the poller's key. */
const keyTest = testNeeding("ssh-keygen");

const T0 = 1_700_000_000;

/** Holds back READDIR answers of a listing until released, by their number in it. */
function gates() {
  const waiting = new Map<number, () => void>();
  return {
    hold: (n: number) => new Promise<void>((resolve) => waiting.set(n, resolve)),
    held: (n: number) => waiting.has(n),
    release(n: number) {
      waiting.get(n)!();
      waiting.delete(n);
    },
    releaseAll() {
      for (const r of waiting.values()) r();
      waiting.clear();
    },
  };
}

/** Waits until READDIR answer `n` is held back and the list's deadline sleeps on the clock. */
async function heldWithDeadline(p: Poll, g: ReturnType<typeof gates>, n: number, due: number) {
  await waitFor(
    `READDIR answer ${n} held`,
    () => g.held(n) && p.clock.pending === 1 && p.clock.nextWake === due,
  );
}

keyTest(
  "sftp poller: a listing whose READDIR answers keep coming, each within the 60 s request timeout, is not cut after 80 s; one answer that does not come within 60 s ends the poll with the reason",
  async () => {
    const server = await startHostileSftpd({ "a.hl7": hl7File("A1", T0) });
    const g = gates();
    server.behaviour.extraNames = 250; // 3 answers of 100 names, then the end
    server.behaviour.beforeReaddir = (n) => (n === 2 || n === 3 ? g.hold(n) : Promise.resolve());
    const p = await startPoll(server.sshd);
    try {
      const started = p.clock.now();
      const polling = p.actor.poll(new AbortController().signal);
      await heldWithDeadline(p, g, 2, started + 60_000);
      p.clock.advance(40_000);
      g.release(2);
      await heldWithDeadline(p, g, 3, started + 60_000);
      p.clock.advance(40_000); // 80 s since the listing began
      // The answer at 40 s started the deadline afresh: it is 60 s from then.
      await heldWithDeadline(p, g, 3, started + 100_000);
      g.release(3);
      const summary = await polling;
      assert.ok(summary, `the poll failed: ${(await p.actor.status()).lastError}`);
      assert.deepEqual([summary.listed, summary.taken, summary.listingCut], [1, 1, false]);
      assert.equal(server.count("READDIR in"), 4);
      assert.equal(p.lines("sftp.poll-failed").length, 0);
      assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["A1"]);

      // The server stops answering during the next listing: cut 60 s after its last answer.
      const next = p.clock.now();
      const stalled = p.actor.poll(new AbortController().signal);
      await heldWithDeadline(p, g, 2, next + 60_000);
      p.clock.advance(59_999);
      assert.equal(p.lines("sftp.poll-failed").length, 0, "cut before its deadline");
      p.clock.advance(1);
      assert.equal(await stalled, undefined);
      const reason = "the SFTP server did not answer within 60 s (list in); session closed";
      assert.equal((await p.actor.status()).lastError, reason);
      assert.ok(p.lines("sftp.poll-failed")[0]!.includes(JSON.stringify(reason)));
    } finally {
      g.releaseAll();
      await p.close();
      await server.stop();
    }
  },
);

keyTest(
  "sftp poller: a folder with more entries than a poll lists is still polled from the entries read (the listing stops there); the cut is logged once, shown in the last poll, and logged again only after a complete listing",
  async () => {
    assert.equal(MAX_LISTED_ENTRIES, 100_000);
    const server = await startHostileSftpd({ "a.hl7": hl7File("A1", T0) });
    server.behaviour.extraNames = 5000;
    const p = await startPoll(server.sshd, { maxListedEntries: 250 });
    try {
      const first = await p.actor.poll(new AbortController().signal);
      assert.ok(first, `the poll failed: ${(await p.actor.status()).lastError}`);
      assert.deepEqual([first.listed, first.taken, first.listingCut], [1, 1, true]);
      // 100 names per answer: no more asked for once 250 were passed.
      assert.equal(server.count("READDIR in"), 3);
      const cut = p.lines("sftp.listing-cut");
      assert.equal(cut.length, 1);
      assert.match(cut[0]!, / WARN {2}sftp\.listing-cut .*folder=in limit=250 /);
      assert.ok(cut[0]!.includes("the folder holds more than 250 entries"), cut[0]);

      server.files.set("in/b.hl7", hl7File("B1", T0 + 1)); // real files come first in a listing
      const second = await p.actor.poll(new AbortController().signal);
      assert.deepEqual(second && [second.taken, second.listingCut], [1, true]);
      assert.equal(p.lines("sftp.listing-cut").length, 1, "logged at every poll");
      const detail = (await p.actor.status()).detail as { lastPoll: { listingCut: boolean } };
      assert.equal(detail.lastPoll.listingCut, true);

      // The folder is emptied below the bound: complete again; growing again is news again.
      server.behaviour.extraNames = 10;
      const third = await p.actor.poll(new AbortController().signal);
      assert.equal(third?.listingCut, false);
      server.behaviour.extraNames = 5000;
      const fourth = await p.actor.poll(new AbortController().signal);
      assert.equal(fourth?.listingCut, true);
      assert.equal(p.lines("sftp.listing-cut").length, 2);
      assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["A1", "B1"]);
    } finally {
      await p.close();
      await server.stop();
    }
  },
);
