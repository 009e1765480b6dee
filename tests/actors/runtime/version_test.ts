/**
 * One version source for the engine: the release and the build (`ENGINE_BUILD`, else the git
 * commit read from `.git` files, else `unknown`), carried by the heartbeat record `/admin/nodes`
 * shows and by `engine_build_info`. Fake checkouts in temp folders; a child process for the
 * environment variable (the build is read once per process).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { EngineMetrics } from "../../../actors/engine/metrics.ts";
import type { Config } from "../../../actors/config/mod.ts";
import { Cluster } from "../../../actors/runtime/cluster.ts";
import {
  ENGINE_VERSION,
  engineBuild,
  engineVersionLine,
  gitCommit,
} from "../../../actors/runtime/version.ts";
import { NodeRegistry } from "../../../actors/store/nodes.ts";
import { processMetrics } from "../../../app/metrics.ts";

const A = "0123456789abcdef0123456789abcdef01234567";
const B = "89abcdef0123456789abcdef0123456789abcdef";

/** A temp folder with `files` (paths relative to it) written; removed after `body`. */
async function withTree(
  files: Record<string, string>,
  body: (root: string) => void | Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "version-" });
  try {
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${root}/${path.split("/").slice(0, -1).join("/")}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${path}`, text);
    }
    await body(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("gitCommit: a fake .git gives its commit: a branch's loose ref, then packed-refs, a detached HEAD, a worktree's .git file", async () => {
  await withTree({
    ".git/HEAD": "ref: refs/heads/main\n",
    ".git/refs/heads/main": `${A}\n`,
  }, (root) => assert.equal(gitCommit(root), A.slice(0, 12)));
  await withTree({
    ".git/HEAD": "ref: refs/heads/release/0.2\n",
    ".git/packed-refs": `# pack-refs with: peeled fully-peeled sorted\n${B} refs/heads/main\n` +
      `${A} refs/heads/release/0.2\n^${B}\n`,
  }, (root) => assert.equal(gitCommit(root), A.slice(0, 12)));
  await withTree(
    { ".git/HEAD": `${B}\n` },
    (root) => assert.equal(gitCommit(root), B.slice(0, 12)),
  );
  // A linked worktree: `.git` is a file naming its git dir, whose `commondir` holds the refs.
  await withTree({
    "repo/.git/refs/heads/feature": `${B}\n`,
    "repo/.git/worktrees/wt/HEAD": "ref: refs/heads/feature\n",
    "repo/.git/worktrees/wt/commondir": "../..\n",
    "wt/.git": "gitdir: ../repo/.git/worktrees/wt\n",
  }, (root) => assert.equal(gitCommit(`${root}/wt`), B.slice(0, 12)));
});

Deno.test("gitCommit: no checkout, a ref that does not resolve or a HEAD pointing outside refs/ give nothing", async () => {
  await withTree({ "x.txt": "" }, (root) => assert.equal(gitCommit(root), undefined));
  await withTree({ ".git/HEAD": "ref: refs/heads/gone\n" }, (root) => {
    assert.equal(gitCommit(root), undefined);
  });
  await withTree({
    ".git/HEAD": "ref: refs/../../secret\n",
    "secret": `${A}\n`,
  }, (root) => assert.equal(gitCommit(root), undefined));
  await withTree({ ".git/HEAD": "garbage\n" }, (root) => assert.equal(gitCommit(root), undefined));
});

Deno.test("engineBuild: ENGINE_BUILD when set, else this checkout's commit (read from .git, as the build id)", async () => {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const fromEnv = Deno.env.get("ENGINE_BUILD");
  const expected = fromEnv?.trim() || gitCommit(root) || "unknown";
  assert.equal(engineBuild(), expected);
  const inCheckout = await Deno.stat(`${root}/.git`).then(() => true, () => false);
  if (!fromEnv && inCheckout) assert.match(engineBuild(), /^[0-9a-f]{12}$/, "the commit, short");
  const version = new URL("../../../actors/runtime/version.ts", import.meta.url).href;
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { engineBuild } from ${JSON.stringify(version)};` +
      `console.log(engineBuild());`,
    ],
    env: { ENGINE_BUILD: "ci-2026.12.06+abc" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(child.stderr);
  assert.equal(child.code, 0, err);
  assert.equal(new TextDecoder().decode(child.stdout).trim(), "ci-2026.12.06+abc");
});

Deno.test("the heartbeat record (/admin/nodes) carries the engine's version and build", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const now = 1_000_000;
    const cluster = new Cluster({
      registry: new NodeRegistry(kv),
      node: "a",
      leaseMs: 10_000,
      now: () => now,
      monotonic: () => now,
      load: () => ({ actors: 0, load: 0 }),
    });
    await cluster.refresh();
    const [self] = await cluster.nodes();
    assert.equal(self?.version, engineVersionLine());
    assert.equal(
      self?.version,
      `engine/${ENGINE_VERSION} build/${engineBuild()} deno/${Deno.version.deno}`,
    );
  } finally {
    kv.close();
  }
});

Deno.test("engine_build_info carries the version and the build, with its runtime labels", () => {
  const metrics = new EngineMetrics(() => ({}) as Config);
  const proc = processMetrics(metrics);
  try {
    const line = metrics.registry.render().split("\n").find((l) =>
      l.startsWith("engine_build_info{")
    );
    const m = /^engine_build_info\{(.*)\} 1$/.exec(line ?? "");
    assert.ok(m, `no engine_build_info sample: ${line}`);
    const labels = Object.fromEntries(
      [...m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]),
    );
    assert.deepEqual(labels, {
      version: ENGINE_VERSION,
      build: engineBuild(),
      deno: Deno.version.deno,
      v8: Deno.version.v8,
    });
    assert.notEqual(ENGINE_VERSION, "0.1.0", "raised from the release every node showed before");
  } finally {
    proc.stop();
  }
});
