/**
 * The hosted SFTP folder's uploads under stress, over an ssh2 client: two uploads of one name
 * closed together, a same-name upload while the first waits to be stored, what a failed close
 * tells the client (never a host path), a write the file system refuses, and long names.
 */

import assert from "node:assert/strict";
import { close, connectHosted, failure, hl7, open, put, stat, write } from "./hosted_client.ts";
import { startHosted } from "./server_fixture.ts";
import { needs, testNeeding } from "../../helpers/system_tools.ts";
/** The fixture makes its keys with ssh-keygen. */
const sshTest = testNeeding("ssh-keygen");

const decoder = new TextDecoder();

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.isDirectory ? `${e.name}/` : e.name);
  return out.sort();
}

async function contents(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await files(dir)) out.push(await Deno.readTextFile(`${dir}/${name}`));
  return out.sort();
}

sshTest(
  "hosted sftp stores each of two same-name uploads closed together, each with its own bytes",
  async () => {
    const h = await startHosted();
    const a = await connectHosted(h);
    const b = await connectHosted(h);
    try {
      const stored: string[] = [];
      let entered!: () => void;
      const firstStoring = new Promise<void>((resolve) => (entered = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      h.setOnUpload(async (u) => {
        if (stored.length === 0) {
          entered();
          await gate; // the first store is slow: the second close comes while it is under way
        }
        stored.push(decoder.decode(u.bytes));
      });
      const ha = await open(a.sftp, "/same.hl7");
      const hb = await open(b.sftp, "/same.hl7");
      await write(a.sftp, ha, hl7("A1"));
      await write(b.sftp, hb, hl7("B1"));
      const said = (p: Promise<void>) => p.then(() => "OK", (e: Error) => `failed: ${e.message}`);
      const closeA = said(close(a.sftp, ha));
      await firstStoring;
      const closeB = said(close(b.sftp, hb));
      // Requests of a session are served in order: once this is answered, B's close has begun.
      await stat(b.sftp, "/");
      release();
      assert.deepEqual(await Promise.all([closeA, closeB]), ["OK", "OK"]);
      assert.deepEqual(stored, [hl7("A1"), hl7("B1")]);
      assert.deepEqual(await contents(`${h.root}/alice/archive`), [hl7("A1"), hl7("B1")].sort());
      assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/"]);
      assert.equal(h.lines("sftp-server.upload-taken").length, 2);
    } finally {
      await a.end();
      await b.end();
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp never replaces a file still waiting to be stored: a same-name upload takes it in first",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    try {
      let refuse = true;
      const stored: string[] = [];
      h.setOnUpload((u) => {
        if (refuse) return Promise.reject(new Error("KV is down"));
        stored.push(decoder.decode(u.bytes));
        return Promise.resolve();
      });
      const first = await failure(put(c.sftp, "/r.hl7", hl7("A2")));
      assert.equal(
        first.message,
        "received, but the engine could not store it (KV is down); it stays here and will be retried",
      );
      // Still refused: the second upload is discarded, the first stays as it was.
      const second = await failure(put(c.sftp, "/r.hl7", hl7("B2")));
      assert.equal(
        second.message,
        "not stored: a file of this name sent earlier is still waiting to be stored (the engine could not store it: KV is down); this upload was discarded, send it again later",
      );
      assert.equal(await Deno.readTextFile(`${h.root}/alice/r.hl7`), hl7("A2"));
      assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/", "r.hl7"]);
      // Every failed close is logged.
      const notStored = h.lines("sftp-server.upload-not-stored");
      assert.equal(notStored.length, 3, notStored.join("\n"));
      assert.match(notStored.at(-1)!, /file=\/r\.hl7 .*discarded/);
      // The engine is back: the next upload of that name takes the waiting one in first.
      refuse = false;
      await put(c.sftp, "/r.hl7", hl7("C2"));
      assert.deepEqual(stored, [hl7("A2"), hl7("C2")]);
      assert.deepEqual(await contents(`${h.root}/alice/archive`), [hl7("A2"), hl7("C2")].sort());
      assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/"]);
    } finally {
      await c.end();
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp tells a client why its file was not stored without naming host paths",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    try {
      const kv = "/var/lib/engine/kv.sqlite3";
      h.setOnUpload(() =>
        Promise.reject(new Error(`cannot write ${kv} for ${h.root}/alice/p.hl7: disk I/O error`))
      );
      const refused = await failure(put(c.sftp, "/p.hl7", hl7("P1")));
      assert.equal(
        refused.message,
        "received, but the engine could not store it (cannot write <path> for /p.hl7: disk I/O error); it stays here and will be retried",
      );
      // The log keeps the whole reason.
      assert.ok(h.lines("sftp-server.upload-not-stored").some((l) => l.includes(kv)));
    } finally {
      await c.end();
      await h.stop();
    }
  },
);

/**
 * The largest offset a file in a temp folder can be written at, found by seeking, when a write
 * there fails (ext4: 16 TiB - 4 KiB); undefined when the file system takes any offset we can
 * send (tmpfs, xfs, btrfs), and the test that needs it is skipped.
 */
async function unwritableOffset(): Promise<number | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "sftp-fsize-" });
  try {
    using f = await Deno.open(`${dir}/probe`, { write: true, create: true });
    const seekable = (n: number) => {
      try {
        f.seekSync(n, Deno.SeekMode.Start);
        return true;
      } catch {
        return false;
      }
    };
    let lo = 0;
    let hi = 2 ** 52;
    if (seekable(hi)) return undefined;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (seekable(mid)) lo = mid;
      else hi = mid;
    }
    f.seekSync(lo, Deno.SeekMode.Start);
    try {
      f.writeSync(new Uint8Array(1));
      return undefined;
    } catch {
      return lo;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const BEYOND = await unwritableOffset();
if (BEYOND === undefined) {
  // deno-lint-ignore no-console
  console.error("ignored: the write-failure test (the temp folder's file system takes any offset)");
}

Deno.test({
  name: "hosted sftp discards an upload a write failed for, refuses its later writes and says why",
  ignore: BEYOND === undefined || needs("ssh-keygen").ignore,
  fn: async () => {
    const h = await startHosted({ maxFileBytes: Number.MAX_SAFE_INTEGER });
    const c = await connectHosted(h);
    try {
      const handle = await open(c.sftp, "/batch.hl7");
      await write(c.sftp, handle, hl7("W1"));
      // The file system cannot take this write (a full disk or an I/O error would do the same).
      const refused = await failure(write(c.sftp, handle, "MSH|more", BEYOND));
      assert.equal(
        refused.message,
        "the write failed (File too large); the upload will be discarded, send it again",
      );
      for (let i = 0; i < 3; i++) {
        const later = await failure(write(c.sftp, handle, hl7("W2"), 4096 * (i + 1)));
        assert.match(later.message, /^a write to this file failed earlier \(File too large\)/);
      }
      const closing = await failure(close(c.sftp, handle));
      assert.equal(
        closing.message,
        "a write to this file failed earlier (File too large); the upload was discarded, send it again",
      );
      assert.equal(h.uploads.length, 0);
      assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/"]);
      assert.deepEqual(await files(`${h.root}/alice/archive`), []);
      // One line for the upload, none per refused write.
      const logged = h.lines("sftp-server.upload-write-failed");
      assert.equal(logged.length, 1);
      assert.match(logged[0]!, /file=\/batch\.hl7 .*failedWrites=4 reason="File too large"/);
      assert.equal(h.lines("sftp-server.request-failed").length, 0);
      // Sent again whole, it is taken in.
      await put(c.sftp, "/batch.hl7", hl7("W1"));
      assert.deepEqual(h.uploads.map((u) => decoder.decode(u.bytes)), [hl7("W1")]);
    } finally {
      await c.end();
      await h.stop();
    }
  },
});

sshTest(
  "hosted sftp takes in names of up to 255 bytes, archives a second one beside the first, refuses longer",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    try {
      const name = `${"r".repeat(251)}.hl7`;
      await put(c.sftp, `/${name}`, hl7("L1"));
      await put(c.sftp, `/${name}`, hl7("L2"));
      assert.deepEqual(h.uploads.map((u) => u.fileName), [name, name]);
      const archived = await files(`${h.root}/alice/archive`);
      assert.equal(archived.length, 2, String(archived));
      assert.ok(archived.includes(name));
      for (const a of archived) assert.ok(new TextEncoder().encode(a).length <= 255, a);
      assert.deepEqual(await contents(`${h.root}/alice/archive`), [hl7("L1"), hl7("L2")].sort());
      assert.equal(h.lines("sftp-server.archive-failed").length, 0);
      const tooLong = await failure(put(c.sftp, `/${name}x`, hl7("L3")));
      assert.equal(tooLong.message, "file name longer than 255 bytes");
      assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/"]);
    } finally {
      await c.end();
      await h.stop();
    }
  },
);
