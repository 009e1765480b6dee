/**
 * The commands that ask a running engine (`status`, `actor`, `simulate`) keep their exit codes
 * apart: 2 when the engine cannot be asked (said the same way by all three), 64 (EX_USAGE) for a
 * usage mistake, so a script can tell a typo from an engine that is down.
 */

import assert from "node:assert/strict";
import { freePort } from "../helpers/net.ts";
import { type MainRun, runMain as runMainWith } from "../helpers/run_main.ts";
import { tempDir } from "../helpers/temp.ts";

/** `main.ts args…` with `ENGINE_ADMIN_TOKEN` empty: an inherited token would win over --token-file. */
function runMain(args: string[]): Promise<MainRun> {
  return runMainWith(args, { ENGINE_ADMIN_TOKEN: "" });
}

Deno.test("simulate says an unreachable engine as status and actor do, and exits 2 as they do", async () => {
  await using dir = await tempDir();
  const token = `${dir.path}/admin.token`;
  await Deno.writeTextFile(token, "some-token\n");
  // Nothing listens there: the port was free a moment ago and nothing here binds it.
  const url = `http://127.0.0.1:${freePort()}`;
  const refused = `cannot reach the engine at ${url}: connection refused ` +
    "(is the engine running, with HTTP on this port?)\n";
  const simulate = await runMain(["simulate", "--url", url, "--token-file", token]);
  const status = await runMain(["status", url, "--token-file", token]);
  const actor = await runMain(["actor", url, "mllp-out-x", "pause", "--token-file", token]);
  assert.deepEqual(
    [simulate, status, actor].map((r) => [r.code, r.stderr]),
    [[2, `simulate: ${refused}`], [2, `status: ${refused}`], [2, `actor: ${refused}`]],
  );
  const noToken = await runMain(["simulate", "--url", url, "--token-file", `${dir.path}/none`]);
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /^simulate: cannot read the admin token from .*none/);
});

Deno.test("a usage mistake of actor, status or simulate exits 64, not the 2 of an engine down", async () => {
  await using dir = await tempDir();
  const token = `${dir.path}/admin.token`;
  await Deno.writeTextFile(token, "some-token\n");
  // A port nobody listens on: a mistake must be said before anything is asked.
  const url = `http://127.0.0.1:${freePort()}`;
  const cases: [string[], RegExp][] = [
    [["actor", url, "mllp-out-x", "skip"], /^actor: skip needs --reason TEXT/],
    [["actor", url, "mllp-out-x", "frobnicate"], /^actor: unknown command "frobnicate": one of /],
    [["actor", url], /^actor: name the actor and one of /],
    [["actor", url, "mllp-out-x", "skip", "--reason"], /^option --reason needs a value/],
    [["status", url, "extra"], /^status: unexpected "extra"/],
    [["status", url, "--max-age", "0"], /^status: --max-age must be a positive number/],
    [["simulate", "--url", url, "--count", "many"], /^simulate: --count must be a whole number/],
    [["simulate", "--url", url, "--rate", "fast"], /^simulate: --rate must be like 50\/s/],
  ];
  for (const [args, said] of cases) {
    const r = await runMain([...args, "--token-file", token]);
    assert.equal(r.code, 64, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, said, args.join(" "));
  }
  // Other commands' usage mistakes keep exit 2.
  assert.equal((await runMain(["frobnicate"])).code, 2);
});
