/**
 * The SFTP poller against Debian's OpenSSH sshd: what it takes and in which order, where files go
 * afterwards, and what happens when the connection dies mid-download or between storing and
 * archiving (nothing half-ingested, nothing lost, nothing stored twice).
 */

import assert from "node:assert/strict";
import type { SftpSession } from "../../../actors/sftp/connector.ts";
import { sha256Hex } from "../../../actors/sftp/file_inbox.ts";
import { freePort, waitFor } from "../../helpers/net.ts";
import { currentUser, type Sshd, startSshd, startTcpProxy, testKey } from "../../helpers/sshd.ts";
import { delegate, pollKey, startPoll } from "./poll_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
/** These tests drive sshd, ssh-keygen as a real peer. */
const sshTest = testNeeding("sshd", "ssh-keygen");

const enc = new TextEncoder();

function oru(id: string): string {
  return `MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||ORU^R01|${id}|P|2.5.1\rPID|1||${id}`;
}

async function withSshd(fn: (sshd: Sshd) => Promise<void>): Promise<void> {
  const sshd = await startSshd({ authorizedKeys: [(await pollKey()).publicKey] });
  try {
    await Deno.mkdir(`${sshd.files}/in`);
    await fn(sshd);
  } finally {
    await sshd.stop();
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.isDirectory ? `${e.name}/` : e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

sshTest(
  "sftp poller takes matching files oldest first, stores them, then archives them",
  async () => {
    await withSshd(async (sshd) => {
      const p = await startPoll(sshd);
      try {
        const inbox = `${sshd.files}/in`;
        await Deno.writeTextFile(`${inbox}/a.hl7`, `${oru("A1")}\r${oru("A2")}\r`);
        await Deno.writeTextFile(`${inbox}/b.hl7`, oru("B1"));
        await Deno.utime(`${inbox}/b.hl7`, 1_700_000_000, 1_700_000_000); // older: first
        await Deno.writeTextFile(`${inbox}/notes.txt`, "not for us");
        await Deno.writeTextFile(`${inbox}/.c.hl7.part`, oru("C1")); // still being uploaded
        await Deno.writeTextFile(`${inbox}/d.hl7.filepart`, oru("D1"));
        const summary = await p.actor.poll(new AbortController().signal);
        assert.deepEqual(
          summary && [summary.listed, summary.taken, summary.stored, summary.duplicates],
          [2, 2, 3, 0],
        );
        const queued = await p.queued();
        assert.deepEqual(queued.map((q) => q.record.controlId), ["B1", "A1", "A2"]);
        assert.deepEqual(queued.map((q) => q.record.fileName), ["b.hl7", "a.hl7", "a.hl7"]);
        assert.equal(queued[0]!.record.origin.peer, `${sshd.user}@127.0.0.1:${sshd.port}`);
        assert.deepEqual(await names(inbox), [
          ".c.hl7.part",
          "archive/",
          "d.hl7.filepart",
          "notes.txt",
        ]);
        assert.deepEqual(await names(`${inbox}/archive`), ["a.hl7", "b.hl7"]);
        const status = await p.actor.status();
        assert.equal(status.id, "sftp-poll:lab");
        assert.equal(status.kind, "sftp-poll");
        assert.equal(status.lastError, undefined);
        const detail = status.detail as Record<string, unknown>;
        assert.equal((detail.keyInUse as { source: string }).source, "env:LAB_KEY");
        assert.equal((detail.lastPoll as { taken: number }).taken, 2);
        // A second poll finds nothing new; a file archived before under the same name is kept.
        await Deno.writeTextFile(`${inbox}/b.hl7`, oru("B2"));
        const second = await p.actor.poll(new AbortController().signal);
        assert.equal(second?.stored, 1);
        const archived = await names(`${inbox}/archive`);
        assert.equal(archived.length, 3, String(archived));
        assert.ok(archived.some((n) => /^\d{8}T\d{6}\.\d{3}Z-b\.hl7$/.test(n)), String(archived));
      } finally {
        await p.close();
      }
    });
  },
);

sshTest("sftp poller with afterIngest delete removes each file once it is stored", async () => {
  await withSshd(async (sshd) => {
    const p = await startPoll(sshd, { settings: { afterIngest: "delete", pattern: "*" } });
    try {
      await Deno.writeFile(`${sshd.files}/in/scan.pdf`, enc.encode("%PDF-1.4 ..."));
      const summary = await p.actor.poll(new AbortController().signal);
      assert.equal(summary?.stored, 1);
      assert.deepEqual(await names(`${sshd.files}/in`), []);
      const [q] = await p.queued();
      assert.equal(q!.record.contentType, "application/pdf");
    } finally {
      await p.close();
    }
  });
});

sshTest(
  "sftp poller moves a file over the size limit to the error folder and logs it",
  async () => {
    await withSshd(async (sshd) => {
      const p = await startPoll(sshd, { maxFileBytes: 1000 });
      try {
        await Deno.writeFile(`${sshd.files}/in/huge.hl7`, enc.encode(oru("H1") + "X".repeat(2000)));
        await Deno.writeFile(`${sshd.files}/in/small.hl7`, enc.encode(oru("S1")));
        const summary = await p.actor.poll(new AbortController().signal);
        assert.equal(summary?.movedToError, 1);
        assert.equal(summary?.stored, 1);
        assert.deepEqual(await names(`${sshd.files}/in/error`), ["huge.hl7"]);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["S1"]);
        const [line] = p.lines("sftp.file-too-large");
        assert.match(
          line ?? "",
          /file=in\/huge\.hl7 size=\d+ limit=1000 movedTo=in\/error\/huge\.hl7/,
        );
      } finally {
        await p.close();
      }
    });
  },
);

sshTest(
  "sftp poller: sshd killed mid-download leaves the file unarchived and unstored; the next poll takes it whole",
  async () => {
    await withSshd(async (sshd) => {
      const proxy = startTcpProxy(sshd.port);
      const p = await startPoll(sshd, { port: proxy.port, settings: { pattern: "*" } });
      try {
        const bytes = randomBytes(12 * 1024 * 1024);
        await Deno.writeFile(`${sshd.files}/in/scan.pdf`, bytes);
        // Kill sshd's session processes once 3 MB of the 12 MB have come down.
        proxy.when("down", 3 * 1024 * 1024, () => sshd.killSessions());
        const cut = await p.actor.poll(new AbortController().signal);
        assert.equal(cut, undefined);
        assert.match((await p.actor.status()).lastError ?? "", /connection|closed|No response/i);
        assert.equal(p.lines("sftp.poll-failed").length, 1);
        assert.deepEqual(await p.queued(), []);
        assert.deepEqual(await names(`${sshd.files}/in`), ["scan.pdf"]);
        const whole = await p.actor.poll(new AbortController().signal);
        assert.equal(whole?.stored, 1);
        const [q] = await p.queued();
        assert.equal(q!.record.size, bytes.length);
        assert.equal(q!.record.sha256, await sha256Hex(bytes));
        assert.deepEqual(await names(`${sshd.files}/in/archive`), ["scan.pdf"]);
        assert.equal((await p.actor.status()).lastError, undefined);
      } finally {
        await p.close();
        await proxy.stop();
      }
    });
  },
);

sshTest(
  "sftp poller: a connection lost between storing and archiving leaves a marker, and the next poll archives the file without storing it again; after a crash there (no marker) the re-download is recognised by its hash and not stored twice",
  async () => {
    await withSshd(async (sshd) => {
      let fault: "connection" | "crash" | undefined = "connection";
      const p = await startPoll(sshd, {
        sink: (real) => ({
          async ingest(file) {
            const result = await real.ingest(file);
            // Stored durably; now the connection dies, or the engine, before the archive.
            const now = fault;
            fault = undefined;
            if (now === "connection") sshd.killSessions();
            if (now === "crash") throw new Error("the engine died here");
            return result;
          },
        }),
      });
      try {
        await Deno.writeTextFile(`${sshd.files}/in/batch.hl7`, [oru("X1"), oru("X2")].join("\r"));
        assert.equal(await p.actor.poll(new AbortController().signal), undefined);
        assert.equal(p.lines("sftp.archive-failed").length, 1);
        assert.deepEqual(await names(`${sshd.files}/in`), ["batch.hl7"]);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["X1", "X2"]);
        const again = await p.actor.poll(new AbortController().signal);
        assert.deepEqual(
          again && [again.taken, again.stored, again.duplicates, again.leftInPlace],
          [0, 0, 0, 1],
        );
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["X1", "X2"]);
        assert.deepEqual(await names(`${sshd.files}/in/archive`), ["batch.hl7"]);
        assert.equal(p.lines("sftp.left-file-cleared").length, 1);

        fault = "crash";
        await Deno.writeTextFile(`${sshd.files}/in/crash.hl7`, [oru("Y1"), oru("Y2")].join("\r"));
        assert.equal(await p.actor.poll(new AbortController().signal), undefined);
        assert.deepEqual(await names(`${sshd.files}/in`), ["archive/", "crash.hl7"]);
        const redone = await p.actor.poll(new AbortController().signal);
        assert.deepEqual(redone && [redone.taken, redone.stored, redone.duplicates], [1, 0, 2]);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), [
          "X1",
          "X2",
          "Y1",
          "Y2",
        ]);
        assert.deepEqual(await names(`${sshd.files}/in/archive`), ["batch.hl7", "crash.hl7"]);
      } finally {
        await p.close();
      }
    });
  },
);

sshTest(
  "sftp poller leaves a file that changes during the download for the next poll",
  async () => {
    await withSshd(async (sshd) => {
      const path = `${sshd.files}/in/growing.hl7`;
      let appended = false;
      const p = await startPoll(sshd, {
        session: (real): SftpSession => {
          const spy = delegate(real);
          spy.read = async (file, o) => {
            const bytes = await real.read(file, o);
            if (!appended) {
              // The sender is still writing: more data arrives right after our download.
              appended = true;
              await Deno.writeTextFile(path, `\r${oru("G2")}`, { append: true });
              await Deno.utime(path, 1_800_000_000, 1_800_000_000);
            }
            return bytes;
          };
          return spy;
        },
      });
      try {
        await Deno.writeTextFile(path, oru("G1"));
        const first = await p.actor.poll(new AbortController().signal);
        assert.deepEqual(first && [first.waiting, first.taken], [1, 0]);
        assert.deepEqual(await p.queued(), []);
        assert.equal(p.lines("sftp.file-changing").length, 1);
        const second = await p.actor.poll(new AbortController().signal);
        assert.equal(second?.stored, 2);
        assert.deepEqual((await p.queued()).map((q) => q.record.controlId), ["G1", "G2"]);
      } finally {
        await p.close();
      }
    });
  },
);

sshTest(
  "sftp poller logs a refused host key with both fingerprints and polls again next interval",
  async () => {
    await withSshd(async (sshd) => {
      const wrong = "SHA256:" + "A".repeat(43);
      const p = await startPoll(sshd, { hostKeyFingerprint: wrong });
      const abort = new AbortController();
      const running = p.actor.run(abort.signal);
      try {
        await waitFor(
          "the first poll",
          () => p.lines("sftp.poll-failed").length === 1 && p.clock.pending === 1,
        );
        const [mismatch] = p.lines("sftp.host-key-mismatch");
        assert.ok(mismatch?.includes(`expected=${wrong}`), mismatch);
        assert.ok(mismatch?.includes(sshd.hostKey.fingerprint), mismatch);
        const status = await p.actor.status();
        assert.match(status.lastError ?? "", /host key of 127\.0\.0\.1:\d+ is SHA256:/);
        assert.equal(status.nextRetryAt, p.clock.now() + 60_000);
        // Nothing happens before the interval is up: still parked on the same wake-up...
        const due = p.clock.nextWake;
        p.clock.advance(59_999);
        assert.equal(p.clock.pending, 1);
        assert.equal(p.clock.nextWake, due);
        assert.equal(p.lines("sftp.poll-failed").length, 1);
        // ... and at the interval it tries again.
        p.clock.advance(1);
        await waitFor("the second poll", () => p.lines("sftp.poll-failed").length === 2);
      } finally {
        abort.abort();
        await running;
        await p.close();
      }
    });
  },
);

sshTest(
  "sftp poller retries at the next interval after the server was down, then takes the files",
  async () => {
    // Chosen ahead, not 0: sshd (an external process, started later) binds it.
    const port = freePort();
    const key = await pollKey();
    // sshd is not up yet: the poller knows where it will be and which host key it will have.
    const sshdPlaceholder = {
      port,
      user: currentUser(),
      hostKey: await testKey("sshd_host", { type: "ed25519" }),
    } as Sshd;
    const p = await startPoll(sshdPlaceholder);
    const abort = new AbortController();
    const running = p.actor.run(abort.signal);
    let sshd: Sshd | undefined;
    try {
      await waitFor(
        "the failed poll",
        () => p.lines("sftp.poll-failed").length === 1 && p.clock.pending === 1,
      );
      assert.match((await p.actor.status()).lastError ?? "", /127\.0\.0\.1:\d+/);
      sshd = await startSshd({ authorizedKeys: [key.publicKey], port });
      await Deno.mkdir(`${sshd.files}/in`);
      await Deno.writeTextFile(`${sshd.files}/in/late.hl7`, oru("L1"));
      p.clock.advance(60_000);
      await waitFor("the file taken", async () => (await p.queued()).length === 1);
      await waitFor("the poll ended", async () => (await p.actor.status()).lastError === undefined);
      // Pause: the interval passes without a poll; resume polls again.
      await p.actor.command("pause", "ops", "maintenance");
      assert.equal((await p.actor.status()).paused?.by, "ops");
      await Deno.writeTextFile(`${sshd.files}/in/later.hl7`, oru("L2"));
      await waitFor("asleep", () => p.clock.pending === 1);
      const due = p.clock.nextWake!;
      p.clock.advance(60_000);
      // Parked again for a later wake-up: a poll would have stored later.hl7 before that.
      await waitFor("parked again", () => p.clock.pending === 1 && p.clock.nextWake! > due);
      assert.equal((await p.queued()).length, 1);
      await p.actor.command("resume", "ops", "done");
      await waitFor("the second file taken", async () => (await p.queued()).length === 2);
    } finally {
      abort.abort();
      await running;
      await p.close();
      await sshd?.stop();
    }
  },
);
