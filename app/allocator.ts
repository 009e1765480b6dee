/**
 * Which memory allocator the engine runs with. Deno allocates through the C library's `malloc`
 * (its buffers, its ops, SQLite); glibc's spent ~15 % of the main thread's time under the
 * pipeline's load (consolidating its bins on every allocation of a message's size). Preloading
 * jemalloc (`LD_PRELOAD`) cut the CPU per message by ~10 % and raised the sustained rate by
 * ~15 % (README, Performance). The image preloads it; `serve` logs which one runs, and where
 * jemalloc could be found when it is not in use.
 *
 * @example
 * ```ts
 * const running = currentAllocator(); // { name: "jemalloc", library: "/usr/lib/…/libjemalloc.so.2" }
 * ```
 * @module
 */

/** An allocator recognised in the process's mappings; `system` is the C library's own. */
export type AllocatorName = "jemalloc" | "tcmalloc" | "mimalloc" | "system";

/** The allocator a process runs with, and the library it was loaded from. */
export interface AllocatorInfo {
  name: AllocatorName;
  /** The shared library mapped into the process (absent for `system`). */
  library?: string;
}

const KNOWN: readonly { name: Exclude<AllocatorName, "system">; file: RegExp }[] = [
  { name: "jemalloc", file: /\/libjemalloc[^/]*\.so[^/]*$/ },
  { name: "tcmalloc", file: /\/libtcmalloc[^/]*\.so[^/]*$/ },
  { name: "mimalloc", file: /\/libmimalloc[^/]*\.so[^/]*$/ },
];

/** The allocator whose library `path` is, if any. */
function allocatorOf(path: string): AllocatorInfo | undefined {
  const known = path.startsWith("/") ? KNOWN.find((k) => k.file.test(path)) : undefined;
  return known && { name: known.name, library: path };
}

/**
 * The allocator named by a process's memory map (the text of `/proc/<pid>/maps`): the first
 * known allocator library mapped, else `system`.
 */
export function allocatorFromMaps(maps: string): AllocatorInfo {
  for (const line of maps.split("\n")) {
    // address perms offset dev inode path: the path is the sixth field, and may hold spaces.
    const found = allocatorOf(line.trim().split(/\s+/).slice(5).join(" "));
    if (found) return found;
  }
  return { name: "system" };
}

/**
 * The allocator named by an `LD_PRELOAD` value (paths separated by spaces or colons): the first
 * known allocator library in it that `exists`, else `system` (the loader skips a missing one).
 */
export function allocatorFromPreload(
  preload: string,
  exists: (path: string) => boolean = isFile,
): AllocatorInfo {
  for (const path of preload.split(/[\s:]+/)) {
    const found = allocatorOf(path);
    if (found && exists(path)) return found;
  }
  return { name: "system" };
}

/**
 * The allocator this process runs with: from `/proc/self/maps` where it may be read (Deno asks
 * for `--allow-all` to read `/proc`), else from `LD_PRELOAD` (the engine's own permissions): what
 * the loader was asked to preload. A library there that the loader could not load (another
 * architecture, a missing dependency) is reported all the same; the loader says so on stderr.
 */
export function currentAllocator(): AllocatorInfo {
  if (Deno.build.os !== "linux") return { name: "system" };
  try {
    return allocatorFromMaps(Deno.readTextFileSync("/proc/self/maps"));
  } catch { /* not allowed: what the loader was asked to preload */ }
  try {
    return allocatorFromPreload(Deno.env.get("LD_PRELOAD") ?? "");
  } catch {
    return { name: "system" };
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Where Debian, Ubuntu, Fedora and Alpine put jemalloc's library (`libjemalloc2` on Debian). */
export const JEMALLOC_PATHS: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
  "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
  "/usr/lib64/libjemalloc.so.2",
  "/usr/lib/libjemalloc.so.2",
  "/usr/local/lib/libjemalloc.so.2",
];

/** The first of {@link JEMALLOC_PATHS} that is a file here, or undefined (or not on Linux). */
export function findJemalloc(paths: readonly string[] = JEMALLOC_PATHS): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  return paths.find(isFile);
}

/**
 * The `engine.allocator` log line's fields: the allocator in use and, on Linux with the C
 * library's own, how to preload jemalloc (`jemalloc`: where it was found, null when nowhere).
 */
export function allocatorReport(
  running: AllocatorInfo = currentAllocator(),
  jemalloc: string | null = running.name === "system" ? findJemalloc() ?? null : null,
): Record<string, string> {
  const fields: Record<string, string> = { allocator: running.name };
  if (running.library) fields.library = running.library;
  if (running.name === "system" && Deno.build.os === "linux") {
    fields.hint = jemalloc
      ? `start with LD_PRELOAD=${jemalloc} for less CPU per message (README: Command line)`
      : "install jemalloc (Debian: libjemalloc2) and start with LD_PRELOAD set to it, " +
        "for less CPU per message (README: Command line)";
  }
  return fields;
}
