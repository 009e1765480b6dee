/**
 * Files that are not what a reader of a config file expects — a FIFO nobody writes to, a sparse
 * file over the size limit — for tests that check such a file is refused at once instead of read.
 * @module
 */

import assert from "node:assert/strict";

/** The most bytes a config file may hold: 16 MiB. */
export const CONFIG_FILE_LIMIT = 16 * 1024 * 1024;

/**
 * Whether `mkfifo` can make a FIFO here (not on Windows, nor where coreutils are missing); for a
 * test's `ignore`.
 */
export async function canMkfifo(): Promise<boolean> {
  if (Deno.build.os === "windows") return false;
  try {
    return (await new Deno.Command("mkfifo", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output()).success;
  } catch {
    return false;
  }
}

/** Makes a FIFO at `path` (nothing may be there), failing with `mkfifo`'s error if it cannot. */
export async function mkfifo(path: string): Promise<void> {
  const made = await new Deno.Command("mkfifo", { args: [path], stderr: "piped" }).output();
  assert.ok(made.success, new TextDecoder().decode(made.stderr));
}

/**
 * Writes a sparse file of `size` zero bytes at `path` (nothing is written but its size), replacing
 * a regular file there. Not over a FIFO: opening it for writing would block.
 */
export async function sparseFile(path: string, size: number): Promise<void> {
  await Deno.writeTextFile(path, "");
  await Deno.truncate(path, size);
}
