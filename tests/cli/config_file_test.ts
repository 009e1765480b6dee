/**
 * `check FILE` and `serve --config FILE` on a config path that is not a regular file (a character
 * device, a FIFO, a directory) or is over 16 MiB: refused at once with the reason named, instead
 * of reading for ever (`/dev/zero`) or blocking on open (a FIFO nobody writes). A file a config
 * names (`{"file": …}`) likewise. Each run of the CLI has a deadline, so a regression fails instead
 * of hanging the suite.
 * @module
 */

import assert from "node:assert/strict";
import {
  canMkfifo,
  CONFIG_FILE_LIMIT as LIMIT,
  mkfifo,
  sparseFile,
} from "../helpers/special_files.ts";
import { tempDir } from "../helpers/temp.ts";
import { runMain } from "../helpers/run_main.ts";

const noFifo = !(await canMkfifo());
const noDevZero = await Deno.stat("/dev/zero").then((s) => !s.isCharDevice, () => true);

/** The refusal is the only problem, on one line, with no stack trace. */
function assertRefused(r: { code: number; stderr: string }, file: string, reason: string) {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim(), `${file}: 1 problem\n  $: ${reason}`);
}

Deno.test({
  name: "check /dev/zero is refused at once as not a regular file (a character device)",
  ignore: noDevZero,
  fn: async () => {
    const r = await runMain(["check", "/dev/zero"]);
    assertRefused(r, "/dev/zero", "/dev/zero is not a regular file (a character device)");
  },
});

Deno.test({
  name: "check and serve --config refuse a FIFO nobody writes to as not a regular file",
  ignore: noFifo,
  fn: async () => {
    await using dir = await tempDir({ prefix: "cli-fifo-" });
    const fifo = `${dir.path}/config.json`;
    await mkfifo(fifo);
    const reason = `${fifo} is not a regular file (a FIFO)`;
    assertRefused(await runMain(["check", fifo]), fifo, reason);
    assertRefused(await runMain(["serve", "--config", fifo]), fifo, reason);
  },
});

Deno.test("check refuses a directory as not a regular file", async () => {
  await using dir = await tempDir({ prefix: "cli-dir-" });
  const r = await runMain(["check", dir.path]);
  assertRefused(r, dir.path, `${dir.path} is not a regular file (a directory)`);
});

Deno.test("check refuses a config over 16 MiB from its size, naming it; one of exactly 16 MiB is read", async () => {
  await using dir = await tempDir({ prefix: "cli-big-" });
  const big = `${dir.path}/big.json`;
  // Sparse files: nothing is written but their size.
  await sparseFile(big, LIMIT + 1);
  assertRefused(
    await runMain(["check", big]),
    big,
    `${big} is ${LIMIT + 1} bytes; a config file is at most 16 MiB (${LIMIT} bytes)`,
  );
  // At the limit it is read and parsed (the zero bytes are not JSON).
  await Deno.truncate(big, LIMIT);
  const r = await runMain(["check", big]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\$: not valid JSON/);
});

Deno.test({
  name: "check refuses a secret file a config names that is not a regular file",
  ignore: noDevZero,
  fn: async () => {
    await using dir = await tempDir({ prefix: "cli-secret-" });
    const file = `${dir.path}/config.json`;
    await Deno.writeTextFile(file, JSON.stringify({ admin: { token: { file: "/dev/zero" } } }));
    const r = await runMain(["check", file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /\$\.admin\.token: cannot read \/dev\/zero: not a regular file \(a character device\)/,
    );
  },
});
