/**
 * Reading a listening socket's accept queue from `/proc/net/tcp` without reading every socket of
 * the host: the kernel lists listening sockets first, and the read stops at the first socket in
 * another state. On the real kernel with 200 connections open, and on files laid out as
 * the kernel lays them out (new kernels; kernels before 4.4, which list connections being opened
 * among the listeners; lines across the read's chunks).
 * @module
 */

import assert from "node:assert/strict";
import {
  kernelAcceptQueue,
  listeningLines,
  PROC_NET_TCP,
  procNetTcpFor,
} from "../../../transports/net/proc_net_tcp.ts";
import { waitFor } from "../../helpers/net.ts";
import { tempDir } from "../../helpers/temp.ts";

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

/** One line of the file: socket `i`, local port `port`, state `st`, `rx` in the rx column. */
function line(i: number, port: number, st: string, rx = 0): string {
  const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, "0");
  const remote = st === "0A" ? "00000000:0000" : `0100007F:${hex(40000 + (i % 20000), 4)}`;
  return `${String(i).padStart(4)}: 0100007F:${hex(port, 4)} ${remote} ${st} ` +
    `00000000:${hex(rx, 8)} 00:00000000 00000000     0        0 ${
      1000 + i
    } 1 0000000000000000 100 0 0 10 0`;
}

async function procFile(dir: string, name: string, lines: string[]): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, [HEADER, ...lines, ""].join("\n"));
  return path;
}

Deno.test("proc net tcp: the read stops at the end of the listening sockets; a listener's line past them is not read", async () => {
  await using dir = await tempDir({ prefix: "proc-net-tcp-" });
  const lines = [line(0, 8080, "0A", 2), line(1, 22, "0A")];
  for (let i = 2; i < 5002; i++) lines.push(line(i, 8080, i % 2 ? "01" : "06"));
  // Not where the kernel puts one: a read of the whole file would count it.
  lines.push(line(5002, 8080, "0A", 7));
  const file = await procFile(dir.path, "tcp", lines);
  assert.equal(kernelAcceptQueue(8080, [file]), 2);
  assert.equal(listeningLines(file).length, 2);
});

Deno.test("proc net tcp: connections being opened listed among the listeners (kernels before 4.4) do not end them", async () => {
  await using dir = await tempDir({ prefix: "proc-net-tcp-" });
  const file = await procFile(dir.path, "tcp", [
    line(0, 8080, "0A", 1),
    line(1, 8080, "03"),
    line(2, 8080, "03"),
    line(3, 2575, "0A", 4),
    line(4, 2575, "01"),
  ]);
  assert.equal(kernelAcceptQueue(2575, [file]), 4);
  assert.equal(kernelAcceptQueue(8080, [file]), 1);
});

Deno.test("proc net tcp: a listener whose line spans two of the read's chunks is counted, IPv4 and IPv6 added up", async () => {
  await using dir = await tempDir({ prefix: "proc-net-tcp-" });
  // ~150 bytes a line: 300 listeners pass the first 16 KiB chunk several times over.
  const many = Array.from({ length: 300 }, (_, i) => line(i, 10000 + i, "0A"));
  const v4 = await procFile(dir.path, "tcp", [
    ...many,
    line(300, 6661, "0A", 3),
    line(301, 1, "01"),
  ]);
  const v6 = await procFile(dir.path, "tcp6", [line(0, 6661, "0A", 5), line(1, 6661, "01")]);
  assert.equal(kernelAcceptQueue(6661, [v4, v6]), 8);
  for (let i = 0; i < 300; i += 37) assert.equal(kernelAcceptQueue(10000 + i, [v4]), 0);
  assert.equal(listeningLines(v4).length, 301);
});

Deno.test("proc net tcp: only the file of the listener's address family is read (the other's end costs a walk of every socket)", () => {
  assert.deepEqual(procNetTcpFor("127.0.0.1"), ["/proc/net/tcp"]);
  assert.deepEqual(procNetTcpFor("0.0.0.0"), ["/proc/net/tcp"]);
  assert.deepEqual(procNetTcpFor("::"), ["/proc/net/tcp6"]);
  assert.deepEqual(procNetTcpFor("::1"), ["/proc/net/tcp6"]);
  assert.deepEqual(procNetTcpFor("fe80::1%eth0"), ["/proc/net/tcp6"]);
  assert.deepEqual(procNetTcpFor("localhost"), PROC_NET_TCP);
});

Deno.test("proc net tcp: no file is undefined (nothing to watch), an unreadable one null", async () => {
  await using dir = await tempDir({ prefix: "proc-net-tcp-" });
  assert.equal(kernelAcceptQueue(8080, [`${dir.path}/missing`]), undefined);
  // A folder opens but cannot be read.
  assert.equal(kernelAcceptQueue(8080, [dir.path]), null);
});

Deno.test("proc net tcp: on the real kernel, with 200 connections open, a listener's waiting connections are counted", async () => {
  if (kernelAcceptQueue(1) === undefined) return; // no /proc/net here: nothing to read
  // 200 established connections (400 sockets) listed after the listeners; few enough for a soft
  // limit of 1,024 open files shared with the test modules running beside this one.
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busyPort = (busy.addr as Deno.NetAddr).port;
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of busy) accepted.push(c);
    } catch { /* closed */ }
  })();
  // A listener nobody accepts on: connections wait in its queue.
  const idle = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const idlePort = (idle.addr as Deno.NetAddr).port;
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: busyPort }));
    }
    await waitFor("200 accepted", () => accepted.length === 200);
    for (let i = 0; i < 2; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: idlePort }));
    }
    await waitFor("two waiting", () => kernelAcceptQueue(idlePort) === 2);
    assert.equal(kernelAcceptQueue(busyPort), 0);
    assert.equal(kernelAcceptQueue(idlePort, procNetTcpFor("127.0.0.1")), 2);
    // Only the listening sockets were read, not the 400 others.
    const listening = listeningLines("/proc/net/tcp");
    assert.ok(listening.length < 200, `${listening.length} lines read`);
  } finally {
    for (const c of [...conns, ...accepted]) c.close();
    busy.close();
    idle.close();
    await accepting;
  }
});
