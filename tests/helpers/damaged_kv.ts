/**
 * Real KV files damaged the way a torn write or a bad sector leaves them, in a page the engine does
 * not read at start: many rows of old history (a key prefix nothing of the engine reads), then one
 * B-tree leaf page in the middle of the file overwritten, while no engine has the file open.
 * @module
 */

import assert from "node:assert/strict";

const PAGE = 4096;
/** SQLite's page type byte of an index B-tree leaf (Deno KV's `kv` table is WITHOUT ROWID). */
const INDEX_LEAF = 0x0a;

/**
 * Writes `rows` rows of 2,000 bytes under `["history", i]` to the KV file `file`, and closes it
 * (SQLite checkpoints its WAL into the file on the last close).
 */
export async function writeHistory(file: string, rows: number): Promise<void> {
  const kv = await Deno.openKv(file);
  try {
    const value = new Uint8Array(2000).fill(0x68);
    for (let i = 0; i < rows; i += 100) {
      const op = kv.atomic();
      for (let j = i; j < Math.min(rows, i + 100); j++) op.set(["history", j], value);
      const r = await op.commit();
      assert.ok(r.ok);
    }
  } finally {
    kv.close();
  }
  await assert.rejects(Deno.stat(`${file}-wal`), Deno.errors.NotFound, "the WAL was checkpointed");
}

/**
 * Overwrites the header of the first B-tree leaf page at or after the middle of `file` (closed)
 * with 0xFF bytes, as a torn page would leave it. Gives the damaged page's number (1-based, as
 * SQLite names pages).
 */
export async function damageMiddleLeaf(file: string): Promise<number> {
  const bytes = await Deno.readFile(file);
  const pages = Math.floor(bytes.length / PAGE);
  let index = Math.floor(pages / 2);
  while (index < pages && bytes[index * PAGE] !== INDEX_LEAF) index++;
  assert.ok(index < pages, "a leaf page in the second half of the file");
  const f = await Deno.open(file, { write: true });
  try {
    await f.seek(index * PAGE, Deno.SeekMode.Start);
    const garbage = new Uint8Array(24).fill(0xff);
    assert.equal(await f.write(garbage), garbage.length);
  } finally {
    f.close();
  }
  return index + 1;
}
