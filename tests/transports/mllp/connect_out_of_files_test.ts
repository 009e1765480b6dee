/**
 * A destination's connect that fails while the engine is out of file descriptors says so (red
 * team 7, F6: "connect to nowhere.invalid:27964 failed: Invalid argument (os error 22)" named only
 * the symptom). For real, on the outbound socket thread of a child process under `ulimit -n 64`;
 * and the rule, on injected readings of the process's open files.
 * @module
 */

import assert from "node:assert/strict";
import { type FileUse, outOfFilesNote } from "../../../transports/net/open_files.ts";

Deno.test("a connect through the socket thread while every file descriptor is taken says the engine is out of them", async () => {
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      'ulimit -n 64 && exec "$0" run -A tests/transports/mllp/connect_out_of_files_child.ts "$1"',
      Deno.execPath(),
      "nowhere.invalid",
    ],
    cwd: new URL("../../../", import.meta.url).pathname,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const { error } = JSON.parse(stdout.trim().split("\n").at(-1)!) as { error: string };
  // The resolver may give up with a descriptor still free (63 of 64 in CI, where the name does
  // not resolve at all); at 90 % of the limit or more the note names the limit.
  const [, open] = error.match(/: the engine is out of file descriptors \((\d+) of 64 open\)$/) ??
    [];
  assert.ok(Number(open) >= 58, error);
});

const at = (open: number, limit: number): () => FileUse => () => ({
  open,
  limit,
  exhausted: false,
});
const einval = new Error("Invalid argument (os error 22)");

Deno.test("a connect failing as 'Invalid argument' with the process at its file limit names the limit", () => {
  assert.equal(
    outOfFilesNote(einval, at(256, 256)),
    ": the engine is out of file descriptors (256 of 256 open)",
  );
  // 90 % of the limit counts as out of them.
  assert.match(outOfFilesNote(einval, at(240, 256)), /240 of 256 open/);
  // The count itself failed for want of a descriptor: every one is taken.
  assert.equal(
    outOfFilesNote(
      Object.assign(new Error("Too many open files (os error 24)"), { code: "EMFILE" }),
      () => ({ open: 256, limit: 256, exhausted: true }),
    ),
    ": the engine is out of file descriptors (256 of 256 open)",
  );
  assert.match(
    outOfFilesNote(new Error("failed to lookup address information: Try again"), at(64, 64)),
    /out of file descriptors \(64 of 64 open\)/,
  );
});

Deno.test("a connect failing with descriptors to spare, or for another cause, says nothing of descriptors", () => {
  assert.equal(outOfFilesNote(einval, at(38, 20_000)), "");
  assert.equal(outOfFilesNote(einval, () => undefined), ""); // no /proc: unknown
  assert.equal(outOfFilesNote(new Error("Connection refused (os error 111)"), at(256, 256)), "");
});
