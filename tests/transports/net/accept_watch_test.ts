/**
 * The accept watch: Deno's `node:net` servers stop accepting for good after one failed accept
 * (out of file descriptors), and the watch listens again. The engine's listeners built on them
 * are tried for real in a child process with 64 descriptors; the watch's rule on a real server
 * with a scripted accept queue.
 * @module
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { watchAccepts } from "../../../transports/net/accept_watch.ts";
import { kernelAcceptQueue } from "../../../transports/net/proc_net_tcp.ts";
import { waitFor } from "../../helpers/net.ts";
import { askOk, okServer } from "./ok_server.ts";

/** Runs emfile_child.ts in `mode` with an open-files limit of 64; its JSON answer. */
async function starvedChild(mode: string) {
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      'ulimit -n 64 && exec "$0" run -A tests/transports/net/emfile_child.ts "$1"',
      Deno.execPath(),
      mode,
    ],
    cwd: new URL("../../../", import.meta.url).pathname,
    // Deno's background update check would open sockets and files at any moment.
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as {
    before: string;
    during: string;
    after: string;
    lines: string[];
  };
}

for (
  const [mode, what, event] of [
    ["serve", "the public HTTP server (node:http)", "http"],
    ["mllp-tls", "the MLLP TLS listener (node:tls)", "mllp"],
    ["sftp", "the hosted SFTP folder (node:net)", "sftp-server"],
  ] as const
) {
  Deno.test(`${what} takes connections again after an accept failed for want of file descriptors, and says so`, async () => {
    const seen = await starvedChild(mode);
    assert.equal(seen.before, "ok");
    assert.notEqual(seen.during, "ok", "the starved accept cannot have been answered");
    assert.equal(seen.after, "ok", seen.lines.join("\n"));
    const stalled = seen.lines.find((l) => l.includes(`ERROR ${event}.accept-stalled`));
    assert.ok(stalled, seen.lines.join("\n"));
    assert.match(stalled, /waiting=\d+ openFiles=\d+ fileLimit=64 reason="the listener stopped/);
    assert.ok(seen.lines.some((l) => l.includes(`WARN  ${event}.accept-restored`)));
  });
}

Deno.test("accept watch: a server that takes connections is left alone, however many wait at each look", async () => {
  const { server, port } = await okServer();
  const log = memoryLogger();
  let looks = 0;
  const asked: Promise<string>[] = [];
  const watch = watchAccepts({
    server,
    hostname: "127.0.0.1",
    port,
    name: "test",
    log,
    intervalMs: 20,
    // Connections wait at every look, and one more arrives before the next: a busy, live server.
    acceptQueue: () => {
      looks++;
      asked.push(askOk(port));
      return 3;
    },
  });
  try {
    await waitFor("six looks", () => looks >= 6);
    assert.deepEqual(await Promise.all(asked), asked.map(() => "ok"));
    assert.equal(watch.restarts, 0);
    assert.deepEqual(log.lines.filter((l) => l.includes("accept-")), []);
  } finally {
    watch.stop();
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("accept watch: connections waiting at two looks with none taken between, the process near its file limit, replace the listening socket, on the same port, without closing the server", async () => {
  const { server, port } = await okServer();
  const log = memoryLogger();
  let closed = false;
  server.on("close", () => closed = true);
  let waiting = 0;
  const watch = watchAccepts({
    server,
    hostname: "127.0.0.1",
    port,
    name: "test",
    log,
    intervalMs: 20,
    acceptQueue: () => waiting,
    // The process near its limit: the evidence that the accept loop died (see the busy-loop tests).
    openFiles: () => ({ open: 60, limit: 64, exhausted: false }),
  });
  try {
    // Nothing waits: nothing happens, however long nothing is taken.
    await waitFor("quiet looks", () => log.lines.length === 0 && watch.restarts === 0, 200);
    waiting = 2; // as the kernel shows a dead accept loop: a queue, and no connection taken
    await waitFor("the listener replaced", () => watch.restarts === 1);
    waiting = 0;
    assert.match(log.lines[0]!, /ERROR test\.accept-stalled port=\d+ waiting=2 /);
    assert.match(log.lines[1]!, /WARN {2}test\.accept-restored port=\d+ stalledMs=\d+/);
    assert.equal((server.address() as { port: number }).port, port);
    assert.equal(await askOk(port), "ok");
    assert.equal(closed, false, "the server's close event means shut down to its owner");
  } finally {
    watch.stop();
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("accept watch: the kernel's accept queue of a listening socket counts connections no one took", async () => {
  if (kernelAcceptQueue(1) === undefined) return; // no /proc/net here: nothing to read
  // A Deno listener nobody accepts on: connections wait in its queue.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conns: Deno.Conn[] = [];
  try {
    assert.equal(kernelAcceptQueue(port), 0);
    for (let i = 0; i < 3; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await waitFor("three waiting", () => kernelAcceptQueue(port) === 3);
  } finally {
    for (const c of conns) c.close();
    listener.close();
  }
});
