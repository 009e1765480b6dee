/**
 * The hosted SFTP folder on a disk that stalls: a read or write waiting on the disk must hold only
 * its own session, never the engine's thread (its other connections, timers, listeners), and the
 * requests a client pipelines on one file must still be answered in order and land right.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import { close, connectHosted, open, stat, write } from "./hosted_client.ts";
import { startHosted } from "./server_fixture.ts";
import { stallNext, watchEventLoop } from "./stalled_disk.ts";
import { waitFor } from "../../helpers/net.ts";
import { testNeeding } from "../../helpers/system_tools.ts";

/** The fixture makes its keys with ssh-keygen. */
const sshTest = testNeeding("ssh-keygen");
/** These drive OpenSSH's sftp too. */
const openSshTest = testNeeding("sftp", "ssh-keygen");

/** Under ssh2's largest WRITE and READ to a server other than OpenSSH's (one request each). */
const CHUNK = 16 * 1024;

/**
 * How long a synchronous read or write blocks the thread on the stalled disk: 10 s, far past the
 * longest event loop gap allowed below (4 s), so that a slow, busy machine's pauses (gaps of
 * 34-343 ms here alone, 508 ms beside two CPU hogs) are not taken for a held thread.
 */
const BLOCK_MS = 10_000;

/** The longest event loop gap allowed: a synchronous call on the stalled disk blocks BLOCK_MS. */
const MAX_GAP_MS = 4_000;

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

function fstat(sftp: ssh2.SFTPWrapper, handle: Buffer): Promise<ssh2.Stats> {
  return new Promise((resolve, reject) =>
    sftp.fstat(handle, (error, stats) => (error ? reject(error) : resolve(stats)))
  );
}

function read(sftp: ssh2.SFTPWrapper, handle: Buffer, position: number, length: number) {
  return new Promise<Uint8Array>((resolve, reject) => {
    const buf = Buffer.alloc(length);
    sftp.read(handle, buf, 0, length, position, (error, n) => {
      if (error) reject(error);
      else resolve(new Uint8Array(buf.subarray(0, n)));
    });
  });
}

sshTest(
  "hosted sftp answers other connections while a write waits on a stalled disk, then pipelined MKDIR, OPEN, writes, FSTAT and CLOSE in order",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    const other = await connectHosted(h);
    const loop = watchEventLoop();
    // More requests than a session may hold waiting: its connection stops being read meanwhile.
    const size = 320 * CHUNK;
    const data = randomBytes(size);
    const stall = stallNext("write", BLOCK_MS);
    try {
      // A folder and a file in it asked for at once: served in order, the OPEN after the MKDIR.
      const made = new Promise<void>((resolve, reject) =>
        c.sftp.mkdir("/lab", (error) => (error ? reject(error) : resolve()))
      );
      const [, handle] = await Promise.all([made, open(c.sftp, "/lab/big.bin")]);
      // Every WRITE sent at once, odd chunks first, then an FSTAT and the CLOSE without waiting.
      const chunks = size / CHUNK;
      const order = [
        ...Array.from({ length: chunks / 2 }, (_, i) => 2 * i + 1),
        ...Array.from({ length: chunks / 2 }, (_, i) => 2 * i),
      ];
      const replies: string[] = [];
      const sent = [
        ...order.map((i) =>
          write(c.sftp, handle, data.subarray(i * CHUNK, (i + 1) * CHUNK), i * CHUNK)
            .then(() => replies.push(`write ${i}`))
        ),
        fstat(c.sftp, handle).then((s) => replies.push(`fstat ${s.size}`)),
        close(c.sftp, handle).then(() => replies.push("close")),
      ];
      void Promise.allSettled(sent); // a failed test ends the connection: no unhandled rejection
      await stall.stalled;
      // The first write waits on the disk: another connection is answered meanwhile.
      await stat(other.sftp, "/");
      assert.ok(
        stall.stuck,
        "another connection was answered only once the stalled write was done: the engine's thread was held",
      );
      assert.deepEqual(replies, []);
      await waitFor(
        "the connection no longer read",
        () => h.lines("sftp-server.backlog-full").length === 1,
      );
      stall.release();
      await Promise.all(sent);
      assert.deepEqual(replies, [...order.map((i) => `write ${i}`), `fstat ${size}`, "close"]);
      assert.deepEqual(h.uploads.map((u) => u.path), ["/lab/big.bin"]);
      assert.ok(Buffer.from(h.uploads[0]!.bytes).equals(Buffer.from(data)), "the bytes differ");
      const worst = loop.stop();
      // Wall time, which a loaded machine stretches: a write made synchronously would block the
      // thread the full BLOCK_MS of the stall.
      assert.ok(worst < MAX_GAP_MS, `the event loop stalled for ${Math.round(worst)} ms`);
    } finally {
      stall.restore();
      loop.stop();
      await c.end();
      await other.end();
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp answers other connections while a read waits on a stalled disk, then pipelined reads in order",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    const other = await connectHosted(h);
    const loop = watchEventLoop();
    const size = 2 * 1024 * 1024 + 1000;
    const data = randomBytes(size);
    await Deno.writeFile(`${h.root}/alice/outbox/big.bin`, data);
    const stall = stallNext("read", BLOCK_MS);
    try {
      const handle = await open(c.sftp, "/outbox/big.bin", 0x01 /* READ */);
      // Every READ sent at once, from the end backwards, past the end last.
      const chunks = Math.ceil(size / CHUNK);
      const order = Array.from({ length: chunks }, (_, i) => chunks - 1 - i);
      const replies: number[] = [];
      const reads = order.map((i) =>
        read(c.sftp, handle, i * CHUNK, CHUNK).then((bytes) => {
          replies.push(i);
          return bytes;
        })
      );
      // ssh2 reports the status EOF as 0 bytes read.
      const beyond = read(c.sftp, handle, size, CHUNK).then((bytes) => bytes.length);
      void Promise.allSettled([...reads, beyond]); // a failed test ends the connection
      await stall.stalled;
      await stat(other.sftp, "/");
      assert.ok(
        stall.stuck,
        "another connection was answered only once the stalled read was done: the engine's thread was held",
      );
      assert.deepEqual(replies, []);
      stall.release();
      const got = await Promise.all(reads);
      assert.deepEqual(replies, order);
      assert.equal(await beyond, 0);
      const whole = new Uint8Array(size);
      order.forEach((i, k) => whole.set(got[k]!, i * CHUNK));
      assert.ok(Buffer.from(whole).equals(Buffer.from(data)), "the bytes differ");
      await close(c.sftp, handle);
      const worst = loop.stop();
      // Wall time (see above): a read made synchronously would block the BLOCK_MS of the stall.
      assert.ok(worst < MAX_GAP_MS, `the event loop stalled for ${Math.round(worst)} ms`);
    } finally {
      stall.restore();
      loop.stop();
      await c.end();
      await other.end();
      await h.stop();
    }
  },
);

openSshTest(
  "hosted sftp keeps the engine's thread free while OpenSSH sftp puts and gets 8 MiB over a disk that stalls",
  async () => {
    const h = await startHosted();
    const other = await connectHosted(h);
    const size = 8 * 1024 * 1024 + 123;
    const data = randomBytes(size);
    await Deno.writeFile(`${h.dir}/big.bin`, data);
    await Deno.writeFile(`${h.root}/alice/outbox/back.bin`, data);
    try {
      const steps: ["write" | "read", string][] = [
        ["write", "put big.bin"],
        ["read", "get outbox/back.bin"],
      ];
      for (const [kind, command] of steps) {
        const loop = watchEventLoop();
        const stall = stallNext(kind, BLOCK_MS);
        try {
          let answeredWhileStuck = false;
          const r = await h.sftp([command], {
            during: async () => {
              await stall.stalled;
              await stat(other.sftp, "/");
              answeredWhileStuck = stall.stuck;
              stall.release();
            },
          });
          assert.equal(r.success, true, r.stderr);
          assert.ok(answeredWhileStuck, `${command}: the engine's thread was held by a ${kind}`);
          const worst = loop.stop();
          // Wall time (see above): a synchronous call would block the BLOCK_MS of the stall.
          assert.ok(
            worst < MAX_GAP_MS,
            `${command}: the event loop stalled for ${Math.round(worst)} ms`,
          );
        } finally {
          stall.restore();
          loop.stop();
        }
      }
      assert.equal(h.uploads.length, 1);
      assert.ok(Buffer.from(h.uploads[0]!.bytes).equals(Buffer.from(data)), "upload differs");
      const back = await Deno.readFile(`${h.dir}/back.bin`);
      assert.ok(Buffer.from(back).equals(Buffer.from(data)), "download differs");
    } finally {
      await other.end();
      await h.stop();
    }
  },
);
