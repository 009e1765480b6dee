/**
 * Temp folders that remove themselves: a test holds one with `await using`, and it goes with
 * everything in it when the test's scope ends, passed or failed.
 *
 * Disposal runs after the `finally` blocks inside that scope, so close what holds files in it
 * there first (a KV opened by the test, an engine, a child process writing to it).
 * @module
 */

/** A temp folder from {@link tempDir}. */
export interface TempDir extends AsyncDisposable {
  /** Its absolute path. */
  readonly path: string;
  /** Removes it and everything in it; one already gone is fine. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Makes a temp folder (`Deno.makeTempDir(options)`; give a `prefix` naming the test) that is
 * removed with everything in it when disposed.
 *
 * @example
 * ```ts
 * await using dir = await tempDir({ prefix: "engine-test-" });
 * const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
 * try {
 *   // ...
 * } finally {
 *   store.close(); // before the folder goes
 * }
 * ```
 */
export async function tempDir(options: Deno.MakeTempOptions = {}): Promise<TempDir> {
  const path = await Deno.makeTempDir(options);
  return {
    path,
    async [Symbol.asyncDispose]() {
      try {
        await Deno.remove(path, { recursive: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    },
  };
}
