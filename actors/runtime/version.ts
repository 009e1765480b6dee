/**
 * The engine's version, in one place: the release ({@link ENGINE_VERSION}, raised with each
 * release) and the build it runs from ({@link engineBuild}): the `ENGINE_BUILD` environment
 * variable when set (a build pipeline or image stamps it), else the git commit of the checkout
 * this module is read from (`.git/HEAD` and the ref it names, read as files: no git command), else
 * `unknown` (a compiled binary without `ENGINE_BUILD`). The heartbeat record (`/admin/nodes`) and
 * `engine_build_info` show both, so nodes of different releases or builds can be told apart.
 * @module
 */

import { fileURLToPath } from "node:url";

/** The engine's release (raise it with each release). */
export const ENGINE_VERSION = "0.2.0";

/** What {@link engineBuild} answers when neither `ENGINE_BUILD` nor a checkout says. */
export const UNKNOWN_BUILD = "unknown";

/** A commit id: SHA-1 (40 hex digits) or SHA-256 (64). */
const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** A ref `HEAD` may name: under `refs/`, no `..`, no odd characters. */
const REF = /^refs\/(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+$/;
/** A build id as `ENGINE_BUILD` may give it (kept to what a label and a log line show as is). */
const BUILD = /^[A-Za-z0-9._+:\/-]{1,100}$/;

/** How many hex digits of a commit the build id keeps (as `git rev-parse --short=12`). */
const SHORT = 12;

function readable(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state === "granted";
  } catch {
    return false;
  }
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

const joinPath = (dir: string, rel: string) =>
  rel.startsWith("/") ? rel : `${dir.replace(/\/+$/, "")}/${rel}`;

/**
 * The commit checked out in the git working tree at `root` (shortened to 12 hex digits), read
 * from its files: `.git/HEAD` (a detached commit, or `ref: refs/heads/…`), then the ref's loose
 * file or `packed-refs`. A `.git` file (`gitdir: …`, a worktree or submodule) is followed, and a
 * worktree's `commondir`. Undefined when `root` is no checkout, or it cannot be read (no read
 * permission: never prompted for).
 */
export function gitCommit(root: string): string | undefined {
  const dotGit = joinPath(root, ".git");
  if (!readable(dotGit)) return undefined;
  let gitDir = dotGit;
  try {
    if (Deno.statSync(dotGit).isFile) {
      const to = readText(dotGit)?.match(/^gitdir:\s*(.+?)\s*$/m)?.[1];
      if (!to) return undefined;
      gitDir = joinPath(root, to);
      if (!readable(gitDir)) return undefined;
    }
  } catch {
    return undefined;
  }
  const head = readText(`${gitDir}/HEAD`)?.trim();
  if (!head) return undefined;
  if (COMMIT.test(head)) return head.slice(0, SHORT);
  const ref = head.match(/^ref:\s*(\S+)$/)?.[1];
  if (!ref || !REF.test(ref) || ref.split("/").some((part) => part === "." || part === "..")) {
    return undefined;
  }
  const common = readText(`${gitDir}/commondir`)?.trim();
  const commonDir = common ? joinPath(gitDir, common) : gitDir;
  if (common && !readable(commonDir)) return undefined;
  for (const dir of new Set([gitDir, commonDir])) {
    const loose = readText(`${dir}/${ref}`)?.trim();
    if (loose && COMMIT.test(loose)) return loose.slice(0, SHORT);
  }
  for (const line of (readText(`${commonDir}/packed-refs`) ?? "").split("\n")) {
    const [commit, name] = line.trim().split(/\s+/);
    if (name === ref && commit && COMMIT.test(commit)) return commit.slice(0, SHORT);
  }
  return undefined;
}

/** `ENGINE_BUILD` if set and well-formed (never prompted for). */
function buildFromEnv(): string | undefined {
  try {
    const query = { name: "env", variable: "ENGINE_BUILD" } as const;
    if (Deno.permissions.querySync(query).state !== "granted") return undefined;
    const value = Deno.env.get("ENGINE_BUILD")?.trim();
    return value && BUILD.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The repository root this module is read from, when it is read from files (not compiled in). */
function sourceRoot(): string | undefined {
  const url = new URL("../../", import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url) : undefined;
}

let build: string | undefined;

/**
 * The build this process runs: `ENGINE_BUILD`, else the checkout's commit, else `unknown`.
 * Read once (the first call), then the same for the process's life.
 */
export function engineBuild(): string {
  if (build === undefined) {
    const root = sourceRoot();
    build = buildFromEnv() ?? (root === undefined ? undefined : gitCommit(root)) ?? UNKNOWN_BUILD;
  }
  return build;
}

/** The version a heartbeat record carries: `engine/0.2.0 build/<build> deno/<deno>`. */
export function engineVersionLine(): string {
  return `engine/${ENGINE_VERSION} build/${engineBuild()} deno/${Deno.version.deno}`;
}
