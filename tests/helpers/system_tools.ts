/**
 * Tests that drive a system tool (OpenSSH's sshd, sftp and ssh-keygen, openssl, curl) as a real
 * peer, or run the engine with jemalloc preloaded. On a machine without the tool such a test is
 * reported as ignored, with one line saying what to install; with `CI_REQUIRE_SYSTEM_TOOLS=1`
 * (set by `.ci/run`, which installs them) it runs anyway, so a missing tool fails in CI instead of
 * hiding.
 *
 * @example
 * ```ts
 * Deno.test("sftp upload", needs("sshd", "sftp"), async () => {});
 * ```
 * @module
 */

import { findJemalloc } from "../../app/allocator.ts";

/** A system tool some tests need, with the Debian package that provides it. */
export type SystemTool =
  | "sshd"
  | "sftp"
  | "ssh-keygen"
  | "openssl"
  | "curl"
  | "chromium"
  | "jemalloc";

const PACKAGES: Record<SystemTool, string> = {
  sshd: "openssh-server",
  sftp: "openssh-client",
  "ssh-keygen": "openssh-client",
  openssl: "openssl",
  curl: "curl",
  chromium: "chromium",
  jemalloc: "libjemalloc2",
};

const found = new Map<SystemTool, boolean>();
const reported = new Set<SystemTool>();

/**
 * Whether `tool` is on the PATH (sshd: also /usr/sbin, where Debian puts it; jemalloc: its
 * library where the engine looks for it).
 */
export function hasTool(tool: SystemTool): boolean {
  let seen = found.get(tool);
  if (seen === undefined && tool === "jemalloc") {
    seen = findJemalloc() !== undefined;
    found.set(tool, seen);
  }
  if (seen === undefined) {
    const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
    if (tool === "sshd") dirs.push("/usr/sbin");
    seen = dirs.some((dir) => {
      try {
        return Deno.statSync(`${dir}/${tool}`).isFile;
      } catch {
        return false;
      }
    });
    found.set(tool, seen);
  }
  return seen;
}

/** True when CI asked for every system-tool test to run (and fail if its tool is missing). */
export function systemToolsRequired(): boolean {
  return Deno.env.get("CI_REQUIRE_SYSTEM_TOOLS") === "1";
}

/**
 * Test options that ignore the test when one of `tools` is missing (printing, once per tool,
 * what to install), unless {@link systemToolsRequired}.
 */
export function needs(...tools: SystemTool[]): { ignore: boolean } {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0 || systemToolsRequired()) return { ignore: false };
  for (const tool of missing) {
    if (reported.has(tool)) continue;
    reported.add(tool);
    // deno-lint-ignore no-console
    console.error(
      `ignored: tests that need ${tool} (install Debian's ${PACKAGES[tool]}: ` +
        `apt-get install ${PACKAGES[tool]})`,
    );
  }
  return { ignore: true };
}

/**
 * `Deno.test` for tests that need `tools`: ignored (with what to install) where one is missing.
 *
 * @example
 * ```ts
 * const sshTest = testNeeding("sshd", "ssh-keygen");
 * sshTest("logs in with a key", async () => {});
 * ```
 */
export function testNeeding(
  ...tools: SystemTool[]
): (name: string, fn: (t: Deno.TestContext) => void | Promise<void>) => void {
  return (name, fn) => Deno.test(name, needs(...tools), fn);
}
