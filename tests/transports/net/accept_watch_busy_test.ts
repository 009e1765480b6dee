/**
 * The accept watch tells a dead accept loop from a busy event loop: connections waiting at two
 * looks with none taken between them close and reopen the listening socket (resetting every
 * connection queued on it) only when the process was seen out of file descriptors since the
 * server last took one, or when the stall lasts through several looks that ran on time. A look
 * that ran late (the event loop blocked), or descriptors to spare, give one throttled
 * `accept-slow` WARN and leave the socket alone. Real servers, scripted accept queue, file
 * readings and timer lateness.
 * @module
 */

import assert from "node:assert/strict";
import type { Server } from "node:net";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import {
  type AcceptWatch,
  DEAD_AFTER_ON_TIME_CHECKS,
  watchAccepts,
} from "../../../transports/net/accept_watch.ts";
import type { FileUse } from "../../../transports/net/open_files.ts";
import { waitFor } from "../../helpers/net.ts";
import { askOk, okServer } from "./ok_server.ts";

const handleOf = (server: Server) => (server as unknown as { _handle?: unknown })._handle;

/** Runs `body` with a watch over a fresh server; stops both after. */
async function withWatch(
  options: {
    acceptQueue: () => number | null;
    openFiles: () => FileUse | undefined;
    elapsed?: () => number;
  },
  body: (w: { watch: AcceptWatch; server: Server; port: number; lines: string[] }) => Promise<
    void
  >,
): Promise<void> {
  const { server, port } = await okServer();
  const log = memoryLogger();
  const watch = watchAccepts({
    server,
    hostname: "127.0.0.1",
    port,
    name: "test",
    log,
    intervalMs: 20,
    ...options,
  });
  try {
    await body({ watch, server, port, lines: log.lines });
  } finally {
    watch.stop();
    await new Promise((resolve) => server.close(resolve));
  }
}

const plenty: FileUse = { open: 38, limit: 20_000, exhausted: false };

Deno.test("accept watch: connections waiting while its own timer runs late (a busy event loop) leave the listening socket alone, with one accept-slow WARN", async () => {
  let looks = 0;
  let skew = 0;
  await withWatch({
    // Every look finds connections waiting, none taken, and comes a second late: the watch's
    // clock moves on a second more at each reading (when a look is set, when it runs).
    acceptQueue: () => {
      looks++;
      return 38;
    },
    openFiles: () => plenty,
    elapsed: () => performance.now() + (skew += 1_000),
  }, async ({ watch, server, port, lines }) => {
    const handle = handleOf(server);
    await waitFor("ten looks", () => looks >= 10);
    assert.equal(watch.restarts, 0);
    assert.equal(handleOf(server), handle, "the listening socket is the same");
    assert.deepEqual(lines.filter((l) => l.includes("accept-stalled")), []);
    const slow = lines.filter((l) => l.includes("test.accept-slow"));
    assert.equal(slow.length, 1, "at most one line a minute");
    assert.match(
      slow[0]!,
      /WARN {2}test\.accept-slow port=\d+ waiting=38 lateMs=\d{4,} openFiles=38 fileLimit=20000 reason="connections wait and none was taken since the last check: the event loop is busy: this check ran \d+ ms late; the listener is left alone"$/,
    );
    assert.equal(await askOk(port), "ok");
  });
});

Deno.test("accept watch: connections waiting with file descriptors to spare, looks on time, are not taken for a dead accept loop at once", async () => {
  let looks = 0;
  await withWatch({
    acceptQueue: () => {
      looks++;
      return 5;
    },
    openFiles: () => plenty,
  }, async ({ watch, server, lines }) => {
    const handle = handleOf(server);
    // Two looks make a stall; the ones after it, short of the on-time limit, are left alone.
    await waitFor("looks", () => looks >= DEAD_AFTER_ON_TIME_CHECKS - 1);
    assert.equal(watch.restarts, 0);
    assert.equal(handleOf(server), handle);
    assert.deepEqual(lines.filter((l) => l.includes("accept-stalled")), []);
    assert.match(
      lines.find((l) => l.includes("test.accept-slow")) ?? "",
      /waiting=5 lateMs=\d+ openFiles=38 fileLimit=20000 reason="connections wait and none was taken since the last check: the process has file descriptors to spare \(38 of 20000 open\)/,
    );
  });
});

Deno.test("accept watch: a stall that lasts through several looks on time is a dead accept loop even without seeing the process out of descriptors", async () => {
  let waiting = 5;
  await withWatch({ acceptQueue: () => waiting, openFiles: () => plenty }, async (w) => {
    await waitFor("the listener replaced", () => w.watch.restarts === 1);
    waiting = 0;
    assert.match(
      w.lines.find((l) => l.includes("accept-stalled")) ?? "",
      new RegExp(
        `reason="the listener stopped taking connections \\(none taken through ` +
          `${DEAD_AFTER_ON_TIME_CHECKS} checks that ran on time`,
      ),
    );
  });
});

Deno.test("accept watch: the process seen near its file limit during a stall replaces the listening socket at the next look", async () => {
  let waiting = 0;
  let use: FileUse = plenty;
  await withWatch({ acceptQueue: () => waiting, openFiles: () => use }, async (w) => {
    await waitFor("quiet looks", () => w.lines.length === 0, 100);
    waiting = 3;
    use = { open: 19_000, limit: 20_000, exhausted: false }; // 95 %
    await waitFor("the listener replaced", () => w.watch.restarts === 1);
    waiting = 0;
    const stalled = w.lines.filter((l) => l.includes("accept-stalled"));
    assert.equal(stalled.length, 1);
    assert.match(
      stalled[0]!,
      /ERROR test\.accept-stalled port=\d+ waiting=3 openFiles=19000 fileLimit=20000 reason="the listener stopped taking connections \(an accept failed: the process was out of file descriptors, 19000 of 20000 open\); listening again"$/,
    );
    assert.deepEqual(w.lines.filter((l) => l.includes("accept-slow")), []);
    assert.equal(await askOk(w.port), "ok");
  });
});

Deno.test("accept watch: descriptors that ran out at one look (the queue unreadable) and came back still mean the accept loop died", async () => {
  let looks = 0;
  let waiting: number | null = 0;
  let use: FileUse | undefined = plenty;
  await withWatch({
    acceptQueue: () => {
      looks++;
      return waiting;
    },
    openFiles: () => use,
  }, async (w) => {
    await waitFor("a look", () => looks >= 1);
    // Out of descriptors: the queue cannot be read, nor the files counted.
    waiting = null;
    use = { open: 64, limit: 64, exhausted: true };
    const at = looks;
    await waitFor("a look out of descriptors", () => looks >= at + 1);
    // Descriptors back, connections left waiting, none taken.
    use = { open: 20, limit: 64, exhausted: false };
    waiting = 2;
    await waitFor("the listener replaced", () => w.watch.restarts === 1);
    waiting = 0;
    assert.match(
      w.lines.find((l) => l.includes("accept-stalled")) ?? "",
      /waiting=2 openFiles=20 fileLimit=64 reason="the listener stopped taking connections \(an accept failed: the process was out of file descriptors, 64 of 64 open\)/,
    );
  });
});

Deno.test("accept watch: a connection taken after descriptors ran out shows the accept loop alive: a later stall with descriptors to spare is left alone", async () => {
  let looks = 0;
  let waiting: number | null = 0;
  let use: FileUse | undefined = plenty;
  let skew = 0;
  await withWatch({
    acceptQueue: () => {
      looks++;
      return waiting;
    },
    openFiles: () => use,
    // Every look late from the start: a stall is never a dead loop by the on-time count.
    elapsed: () => performance.now() + (skew += 1_000),
  }, async (w) => {
    await waitFor("a look", () => looks >= 1);
    waiting = null;
    use = { open: 64, limit: 64, exhausted: true };
    let at = looks;
    await waitFor("a look out of descriptors", () => looks >= at + 1);
    use = plenty; // the queue still unreadable: nothing is cleared by a look meanwhile
    assert.equal(await askOk(w.port), "ok"); // taken by the server
    waiting = 4;
    at = looks;
    await waitFor("four more looks", () => looks >= at + 4);
    assert.equal(w.watch.restarts, 0);
    assert.deepEqual(w.lines.filter((l) => l.includes("accept-stalled")), []);
    assert.equal(w.lines.filter((l) => l.includes("accept-slow")).length, 1);
  });
});
