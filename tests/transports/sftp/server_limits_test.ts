/**
 * What one hosted SFTP user can hold, over an ssh2 client: open files and folders capped per user
 * and across the server (with one log line per burst of refusals), a connection that holds files
 * and says nothing closed after the idle timeout, folder listings read page by page without
 * holding the engine's thread, and log lines kept few whatever the client does.
 */

import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import { waitFor } from "../../helpers/net.ts";
import { testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { assertHeldBelow, gapMonitor, threadCpuMs } from "../../helpers/thread_hold.ts";
import {
  close,
  connectHosted,
  failure,
  hl7,
  open,
  opendir,
  readdir,
  stat,
  write,
} from "./hosted_client.ts";
import { startHosted } from "./server_fixture.ts";
/** The fixture makes its keys with ssh-keygen. */
/** How many folders the listed folder holds (each listing reads the first 100). */
const ENTRIES = 20_000;

const sshTest = testNeeding("ssh-keygen");

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.isDirectory ? `${e.name}/` : e.name);
  return out.sort();
}

sshTest(
  "hosted sftp caps one user's open files and folders at 256 across connections, logging once",
  async () => {
    const h = await startHosted();
    const one = await connectHosted(h);
    const two = await connectHosted(h);
    const bob = await connectHosted(h, { user: "bob", key: await testKey("bob") });
    try {
      // 4 sessions × 64 handles on one connection: the user's 256.
      const sessions = [one.sftp, await one.session(), await one.session(), await one.session()];
      const held: [ssh2.SFTPWrapper, Buffer][] = [];
      for (const [s, sftp] of sessions.entries()) {
        const handles = await Promise.all(
          Array.from({ length: 64 }, (_, i) => open(sftp, `/hold-${s}-${i}.hl7`)),
        );
        for (const handle of handles) held.push([sftp, handle]);
      }
      const limit =
        "too many open files and folders (limit 256 per user); close some and try again";
      for (let i = 0; i < 5; i++) {
        assert.equal((await failure(open(two.sftp, `/more-${i}.hl7`))).message, limit);
        assert.equal((await failure(opendir(two.sftp, "/"))).message, limit);
      }
      assert.equal(h.lines("sftp-server.handle-limit").length, 1);
      assert.match(h.lines("sftp-server.handle-limit")[0]!, /user=alice .*limit=256/);
      // Another user is not held back by alice.
      await close(bob.sftp, await open(bob.sftp, "/bob.hl7"));
      // One closed: alice may open one again, and the burst's count is logged.
      const [sftp, handle] = held.pop()!;
      await close(sftp, handle);
      await close(two.sftp, await open(two.sftp, "/after.hl7"));
      assert.match(h.lines("sftp-server.handle-limit-ended")[0]!, /user=alice .*refused=10/);
    } finally {
      await one.end();
      await two.end();
      await bob.end();
      await h.stop();
    }
  },
);

sshTest("hosted sftp caps open files across all users and says the server is full", async () => {
  const h = await startHosted({ maxOpenHandles: 3 });
  const alice = await connectHosted(h);
  const bob = await connectHosted(h, { user: "bob", key: await testKey("bob") });
  try {
    const a1 = await open(alice.sftp, "/a1.hl7");
    await open(alice.sftp, "/a2.hl7");
    await open(bob.sftp, "/b1.hl7");
    const full = "the server has too many open files and folders (limit 3); try again later";
    assert.equal((await failure(open(bob.sftp, "/b2.hl7"))).message, full);
    assert.equal((await failure(opendir(alice.sftp, "/"))).message, full);
    assert.equal(h.lines("sftp-server.handle-limit").length, 1);
    await close(alice.sftp, a1);
    await close(bob.sftp, await open(bob.sftp, "/b2.hl7"));
    assert.match(h.lines("sftp-server.handle-limit-ended")[0]!, /scope=server refused=2/);
  } finally {
    await alice.end();
    await bob.end();
    await h.stop();
  }
});

sshTest(
  "hosted sftp caps the folder listings one user holds open, but always allows one alone",
  async () => {
    const h = await startHosted({ maxListedCharsPerUser: 1000 });
    const c = await connectHosted(h);
    try {
      await Deno.mkdir(`${h.root}/alice/a`);
      await Deno.mkdir(`${h.root}/alice/b`);
      // 50 names of 10 characters: 550 held per listing (with separators); 200: 2,200.
      for (let i = 0; i < 200; i++) {
        const name = `n${String(i).padStart(5, "0")}.hl7`;
        if (i < 50) await Deno.writeFile(`${h.root}/alice/a/${name}`, new Uint8Array());
        await Deno.writeFile(`${h.root}/alice/b/${name}`, new Uint8Array());
      }
      // Larger than the cap, but alone: listed.
      const big = await opendir(c.sftp, "/b");
      assert.equal((await readdir(c.sftp, big))?.length, 100);
      await close(c.sftp, big);
      const first = await opendir(c.sftp, "/a");
      const full = "too many large folder listings open at once; read or close them and try again";
      for (let i = 0; i < 3; i++) {
        assert.equal((await failure(opendir(c.sftp, "/a"))).message, full);
      }
      assert.equal(h.lines("sftp-server.handle-limit").length, 1);
      // Files may still be opened: only listings are held back.
      await close(c.sftp, await open(c.sftp, "/x.hl7"));
      await close(c.sftp, first);
      assert.match(h.lines("sftp-server.handle-limit-ended")[0]!, /scope=listing refused=3/);
      await close(c.sftp, await opendir(c.sftp, "/a"));
    } finally {
      await c.end();
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp closes a connection that holds open files and sends no request for the idle timeout",
  async () => {
    const h = await startHosted({ idleTimeoutMs: 300 });
    // Idle for longer than the other, but holding nothing: it stays.
    const quiet = await connectHosted(h);
    const holder = await connectHosted(h);
    try {
      let closed = false;
      holder.closed.then(() => (closed = true));
      const handle = await open(holder.sftp, "/held.hl7");
      await write(holder.sftp, handle, hl7("I1"));
      await waitFor("the idle connection closed", () => closed);
      const idle = h.lines("sftp-server.idle-closed");
      assert.equal(idle.length, 1);
      assert.match(idle[0]!, /user=alice peer=127\.0\.0\.1 handles=1 /);
      await waitFor(
        "the upload discarded",
        () => h.lines("sftp-server.upload-interrupted").length === 1,
      );
      assert.match(h.lines("sftp-server.upload-interrupted")[0]!, /file=\/held\.hl7/);
      assert.equal(h.uploads.length, 0);
      assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/"]);
      assert.ok((await stat(quiet.sftp, "/")).isDirectory());
    } finally {
      await quiet.end();
      await holder.end();
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp lists a folder page by page, looking each entry up when its page is read",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    try {
      const dir = `${h.root}/alice/big`;
      await Deno.mkdir(dir);
      const names = Array.from({ length: 1000 }, (_, i) => `f${String(i).padStart(4, "0")}.hl7`);
      for (const name of names) await Deno.writeFile(`${dir}/${name}`, new Uint8Array());
      await Deno.writeFile(`${dir}/.0123456789ab.upload`, new Uint8Array()); // a staging file
      await Deno.symlink("/etc/passwd", `${dir}/link`);
      const handle = await opendir(c.sftp, "/big");
      const first = (await readdir(c.sftp, handle))!;
      assert.ok(first.length > 0 && first.length <= 100, String(first.length));
      // Changed after the OPENDIR, before their page is read.
      const later = names.filter((n) => !first.some((e) => e.filename === n));
      await Deno.remove(`${dir}/${later[0]}`);
      await Deno.writeTextFile(`${dir}/${later[1]}`, "12345");
      const seen = new Map(first.map((e) => [e.filename, e.attrs.size]));
      for (let page = await readdir(c.sftp, handle); page; page = await readdir(c.sftp, handle)) {
        assert.ok(page.length <= 100, String(page.length));
        for (const e of page) {
          assert.ok(!seen.has(e.filename), `${e.filename} listed twice`);
          seen.set(e.filename, e.attrs.size);
        }
      }
      await close(c.sftp, handle);
      assert.deepEqual([...seen.keys()].sort(), names.filter((n) => n !== later[0]));
      assert.equal(seen.get(later[1]!), 5);
    } finally {
      await c.end();
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp opens listings of a 20,000-entry folder without holding the engine's thread",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    const dir = `${h.root}/alice/flood`;
    /** The folder's entries `d0`... made or removed 500 at a time. */
    const each = async (f: (path: string) => Promise<void>) => {
      for (let i = 0; i < ENTRIES; i += 500) {
        await Promise.all(Array.from({ length: 500 }, (_, j) => f(`${dir}/d${i + j}`)));
      }
    };
    try {
      await Deno.mkdir(dir);
      await each((path) => Deno.mkdir(path));
      // The server runs in this process: a 10 ms timer shows any stall, and how much of it was
      // this thread's own CPU time. Wall time alone does not tell them apart on a busy machine:
      // with 10,000 entries the longest gap was 22-37 ms alone, 217 ms beside two CPU hogs, while
      // reading the folder and looking every entry up on the engine's thread gave 1.3-1.5 s under
      // load (a 1.5 s bound passed it), holding the thread only 190-230 ms of CPU. With 20,000,
      // done on the thread each listing held it 180-490 ms; off it, 20-40 ms. Off Linux `held` is
      // the wall gap itself: the old bound.
      await assertHeldBelow({
        boundMs: threadCpuMs() === undefined ? 1500 : 100,
        what: "the engine's thread",
        run: async () => {
          const watch = gapMonitor();
          let handles: Buffer[];
          let stall: { gap: number; held: number };
          try {
            handles = await Promise.all(
              Array.from({ length: 8 }, () => opendir(c.sftp, "/flood")),
            );
          } finally {
            stall = watch.stop();
          }
          for (const handle of handles) {
            assert.equal((await readdir(c.sftp, handle))?.length, 100);
            await close(c.sftp, handle);
          }
          return { held: stall.held, detail: `longest gap ${Math.round(stall.gap)} ms` };
        },
      });
    } finally {
      await c.end();
      // The fixture's one recursive remove of so many folders takes far longer.
      await each((path) => Deno.remove(path).catch(() => {}));
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp logs the uploads a dropped connection cut off in one line with their count",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    try {
      const sessions = [c.sftp, await c.session()];
      for (let i = 0; i < 10; i++) {
        const sftp = sessions[i % 2]!;
        await write(sftp, await open(sftp, `/cut-${i}.hl7`), hl7(`C${i}`));
      }
      await c.end();
      // Once the server has let go of the connection, every session of it has ended.
      await waitFor("the connection gone", () => Object.keys(h.server.connections()).length === 0);
      const lines = h.lines("sftp-server.upload-interrupted");
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0]!, /user=alice .*uploads=10 received=\d+ .*all discarded/);
      assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/"]);
    } finally {
      await c.end();
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp logs at most 20 refused requests a minute per session and counts the rest",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    try {
      for (let i = 0; i < 30; i++) await failure(open(c.sftp, `/../escape-${i}.hl7`));
      assert.equal(h.lines("sftp-server.denied").length, 20);
      await c.end();
      await waitFor("the count logged", () => h.lines("sftp-server.not-logged").length === 1);
      assert.match(h.lines("sftp-server.not-logged")[0]!, /user=alice .*lines=10/);
    } finally {
      await h.stop();
    }
  },
);
