/**
 * What `check FILE` verifies beyond the schema, and what `serve` says about a config at start:
 * the KV file the engine would open (a relative `kv.path` is relative to the working directory,
 * unlike `{"file": …}` secrets, which are relative to the config's folder), TLS certificate/key
 * pairs loaded the way the listeners load them, and a KV Connect URL without a token; with
 * `--kv`, the KV file's integrity ({@link checkKvFile}).
 * @module
 */

import type { Config } from "../actors/config/mod.ts";
import { errorMessage } from "../actors/runtime/errors.ts";
import { checkKvIntegrity, localKvFile } from "../actors/store/integrity_check.ts";
import { inspectStoreFormat, STORE_FORMAT } from "../actors/store/format.ts";
import { kvPathKind } from "../actors/store/kv.ts";
import { ENGINE_VERSION } from "../actors/runtime/version.ts";

/** Where the KV is: `absolute` is what the engine opens; `relative` says it came from the cwd. */
export interface KvLocation {
  /** The absolute file path, or `:memory:` / the KV Connect URL as written. */
  absolute: string;
  /** True when `kv.path` was relative and was resolved against `cwd`. */
  relative: boolean;
  cwd: string;
}

/**
 * The KV a config opens from `cwd` (the working directory): `kv.path` as given when it is
 * absolute, `:memory:` or a URL; otherwise resolved against `cwd` (not the config's folder).
 */
export function kvLocation(kvPath: string, cwd: string = Deno.cwd()): KvLocation {
  if (kvPathKind(kvPath) !== "file" || kvPath.startsWith("/")) {
    return { absolute: kvPath, relative: false, cwd };
  }
  const parts = cwd.split("/").filter(Boolean);
  for (const part of kvPath.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return { absolute: `/${parts.join("/")}`, relative: true, cwd };
}

/** One line for `check`: the KV the engine would use, and why when it depends on the cwd. */
export function describeKv(config: Config, cwd: string = Deno.cwd()): string {
  const kv = kvLocation(config.kv.path, cwd);
  return kv.relative
    ? `kv: ${kv.absolute} (kv.path ${
      JSON.stringify(config.kv.path)
    } is relative to the working directory ${cwd}, not to the config's folder)`
    : `kv: ${kv.absolute}`;
}

/** A problem found by {@link runtimeProblems}, with the config path at fault. */
export interface CheckProblem {
  path: string;
  message: string;
}

/**
 * What the schema cannot see and `serve` would refuse: a TLS certificate and key that do not load
 * together (tried with `Deno.listenTls` on an ephemeral loopback port, closed at once, as the HTTP
 * server does before it starts), and a KV Connect URL with no access token.
 */
export function runtimeProblems(config: Config): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const pairs: { path: string; tls: { cert: { reveal(): string }; key: { reveal(): string } } }[] =
    [];
  if (config.http.tls) pairs.push({ path: "$.http.tls", tls: config.http.tls });
  config.listeners.forEach((l, i) => {
    if (l.tls) pairs.push({ path: `$.listeners[${i}].tls`, tls: l.tls });
  });
  for (const { path, tls } of pairs) {
    const cert = tls.cert.reveal().trim();
    const key = tls.key.reveal().trim();
    try {
      Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key }).close();
    } catch (error) {
      // Without the net permission nothing could be tried: serve will say.
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        continue;
      }
      problems.push({
        path,
        message: `the certificate and key do not load together: ${errorMessage(error)}`,
      });
    }
  }
  if (
    kvPathKind(config.kv.path) === "remote" && config.kv.accessToken === undefined &&
    !Deno.env.get("DENO_KV_ACCESS_TOKEN")
  ) {
    problems.push({
      path: "$.kv.accessToken",
      message: 'a KV Connect URL needs an access token: {"env": "NAME"} or {"file": "path"}',
    });
  }
  return problems;
}

/** What {@link checkKvFile} found: `ok` false when the file is damaged or could not be checked. */
export interface KvFileCheck {
  ok: boolean;
  /** What `check --kv` prints (one line, or a few for a damaged file). */
  text: string;
}

/**
 * `check FILE --kv`: SQLite's `PRAGMA quick_check` over the KV file the config opens, in the
 * foreground, the check `serve` runs in the background at start (actors/store/integrity_check.ts).
 * Safe while the engine runs: the file is opened read-only and the engine's commits go on.
 * `:memory:`, a KV Connect URL and a file not created yet have nothing to check (ok).
 */
export async function checkKvFile(config: Config, cwd: string = Deno.cwd()): Promise<KvFileCheck> {
  const kv = kvLocation(config.kv.path, cwd);
  const file = localKvFile(kv.absolute);
  if (file === undefined) {
    return {
      ok: true,
      text: `kv integrity: nothing to check (${kv.absolute} is not a local file)`,
    };
  }
  try {
    await Deno.stat(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { ok: true, text: `kv integrity: no file yet at ${file} (the engine creates it)` };
    }
    return { ok: false, text: `kv integrity: not checked: ${file}: ${errorMessage(error)}` };
  }
  const r = await checkKvIntegrity(file);
  if (r.status === "ok") {
    return { ok: true, text: `kv integrity: ok (${file}, PRAGMA quick_check, ${r.ms} ms)` };
  }
  if (r.status === "not-run") {
    return { ok: false, text: `kv integrity: not checked: ${file}: ${r.reason}` };
  }
  return {
    ok: false,
    text: [
      `kv integrity: DAMAGED: ${file} (PRAGMA quick_check, ${r.ms} ms):`,
      ...r.problems.map((p) => `  ${p}`),
      "  the engine refuses every commit on this file once it finds it: stop the engine, restore " +
      "the KV file from a backup (or recover it with sqlite3's `.recover`), then start it again",
    ].join("\n"),
  };
}

/**
 * `check FILE --kv`: the store-format marker of the KV the config opens, as `serve` would find it
 * (actors/store/format.ts): `ok` false, with the refusal `serve` would give, when a newer engine
 * wrote it. Nothing is written; a local file not created yet and `:memory:` have no marker.
 */
export async function checkKvFormat(
  config: Config,
  cwd: string = Deno.cwd(),
): Promise<KvFileCheck> {
  const kv = kvLocation(config.kv.path, cwd);
  if (kvPathKind(kv.absolute) === "memory") {
    return { ok: true, text: "store format: nothing to read (:memory:)" };
  }
  const file = localKvFile(kv.absolute);
  if (file !== undefined) {
    try {
      await Deno.stat(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return { ok: true, text: `store format: no file yet at ${file}` };
      }
      return { ok: false, text: `store format: not read: ${file}: ${errorMessage(error)}` };
    }
  }
  try {
    const r = await inspectStoreFormat({
      path: kv.absolute,
      ...(config.kv.accessToken ? { accessToken: config.kv.accessToken.reveal() } : {}),
      release: ENGINE_VERSION,
    });
    if (r.status === "refused") return { ok: false, text: `store format: ${r.error.message}` };
    if (r.status === "absent") {
      return {
        ok: true,
        text: `store format: no marker yet (the engine writes format ${STORE_FORMAT} at start)`,
      };
    }
    const at = new Date(r.marker.at).toISOString();
    return {
      ok: true,
      text: `store format: ${r.marker.format} (marker written by engine ${r.marker.release} at ` +
        `${at}); this engine (${ENGINE_VERSION}) reads store format ≤ ${STORE_FORMAT}`,
    };
  } catch (error) {
    return { ok: false, text: `store format: not read: ${kv.absolute}: ${errorMessage(error)}` };
  }
}
