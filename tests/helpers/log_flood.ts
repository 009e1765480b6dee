/**
 * What the log-flood tests share: a connection that sends its bytes and goes, and a wait on the
 * logger's own lines.
 * @module
 */

import assert from "node:assert/strict";

/**
 * Reads `conn` until the server closes it (bounded: it writes an alert or an error at most), then
 * closes it; a reset counts as a close.
 */
export async function readToClose(conn: Deno.Conn): Promise<void> {
  try {
    const buf = new Uint8Array(1024);
    for (let i = 0; i < 100; i++) if ((await conn.read(buf)) === null) break;
  } catch {
    // A reset is a close too.
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/**
 * Connects to `port` on loopback, sends `bytes` and closes; with `waitForClose`, first reads until
 * the server closes (see {@link readToClose}).
 */
export async function sendAndClose(
  port: number,
  bytes: Uint8Array,
  waitForClose = true,
): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes);
  } catch {
    // A reset is a close too.
  }
  if (waitForClose) return await readToClose(conn);
  try {
    conn.close();
  } catch { /* already closed */ }
}

/**
 * Waits until `done` holds, polling (bounded: 30 s, as `waitFor`: a loaded machine took more than
 * 10 s for what a test polls for); fails with the log's last 30 lines.
 */
export async function untilLogged(
  log: { lines: string[] },
  what: string,
  done: () => boolean,
): Promise<void> {
  for (let i = 0; i < 6_000 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(done(), `${what}:\n${log.lines.slice(-30).join("\n")}`);
}
