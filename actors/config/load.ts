/**
 * Turning config text into a validated {@link Config}, or into the full list of problems, each
 * with its JSON path and reason: a wrong config is reported whole, never as a stack trace.
 * @module
 */

import { type Config, configSchema, type ConfigSources } from "./schema.ts";
import { crossCheck } from "./cross_check.ts";
import { configErrorMap } from "./issue_messages.ts";
import {
  expandSandbox,
  SANDBOX_SECRET_ENV,
  SANDBOX_TOKEN_ENV,
  SANDBOX_TOKEN_PLACEHOLDER,
} from "./sandbox.ts";
import { originalPath, salvage } from "./salvage.ts";
import { errorMessage } from "../runtime/errors.ts";
import { duplicateKeyAt } from "../../codecs/json/mod.ts";
import { documentRouteWarnings } from "./document_route_warnings.ts";

const sandboxSecret = crypto.randomUUID();

/**
 * The sandbox's own placeholder for its (unchecked) verification token, and a random client
 * secret for its API source (it issues its own tokens: nobody needs to know the secret).
 */
function sandboxEnv(name: string): string | undefined {
  if (name === SANDBOX_SECRET_ENV) return sandboxSecret;
  return name === SANDBOX_TOKEN_ENV ? SANDBOX_TOKEN_PLACEHOLDER : undefined;
}

/** One thing wrong with a config: where (`$.integrations[0].mllp.port`) and why. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/**
 * Something about a valid config worth a log line, never a refusal: a secret file that group or
 * others can read (or write), named with its mode (never the value); or a route that some
 * messages may fail (`path`, see document_route_warnings.ts).
 */
export interface ConfigWarning {
  /** The file as the config names it (a secret file's warning). */
  file?: string;
  /** Its permission bits in octal, e.g. `0644`. */
  mode?: string;
  /** Where in the config (`$.subscriptions[0].to[1]`), for a routing warning. */
  path?: string;
  message: string;
}

/** The outcome of validating a config. */
export type ConfigResult =
  | { ok: true; config: Config; warnings?: ConfigWarning[] }
  | { ok: false; problems: ConfigProblem[] };

/** Formats a path of keys and indexes as `$.a.b[0].c`. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = "$";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/**
 * Validates an already-parsed JSON value. When the schema fails, the well-formed parts are still
 * cross-checked, so every problem is listed at once.
 */
export function parseConfig(raw: unknown, sources: ConfigSources): ConfigResult {
  // The sandbox's connections are added first, so that they are checked like written ones.
  const sandbox = expandSandbox(raw);
  if (!sandbox.ok) return { ok: false, problems: sandbox.problems };
  const value = sandbox.value;
  const schema = configSchema(
    sandbox.sandbox ? { ...sources, env: (n) => sources.env(n) ?? sandboxEnv(n) } : sources,
  );
  const result = schema.safeParse(value, { error: configErrorMap });
  if (!result.success) {
    const problems = result.error.issues.map((issue) => ({
      path: jsonPath(issue.path),
      message: issue.message,
    }));
    const { config, broken, indexes } = salvage(schema, value);
    for (const problem of crossCheck(config, broken)) {
      problems.push({ ...problem, path: originalPath(problem.path, indexes) });
    }
    return { ok: false, problems: dedupe(problems) };
  }
  const problems = crossCheck(result.data);
  if (problems.length > 0) return { ok: false, problems };
  const warnings = documentRouteWarnings(result.data);
  return warnings.length > 0
    ? { ok: true, config: result.data, warnings }
    : { ok: true, config: result.data };
}

/** Validates config text; a JSON syntax error is reported with its line and column. */
export function parseConfigText(text: string, sources: ConfigSources): ConfigResult {
  // A byte-order mark (Windows Notepad saves one) is not part of the JSON.
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      problems: [{ path: "$", message: `not valid JSON: ${describeJsonError(text, error)}` }],
    };
  }
  // JSON.parse keeps a repeated key's last value: a second "limits" block would silently win.
  const repeated = duplicateKeyAt(text);
  if (repeated) {
    return {
      ok: false,
      problems: [{
        path: repeated.path,
        message: `"${repeated.key}" is named twice in one object (only the last would count)`,
      }],
    };
  }
  return parseConfig(value, sources);
}

/**
 * Sources backed by the real process environment and file system. Files named relative to
 * `baseDir` (the config's folder). `warnings` collects, once per file, each file read (a secret)
 * that group or others may read or write (`mode & 0o077`; a certificate without a private key
 * only when they may write it).
 */
export function processSources(baseDir = "."): ConfigSources & { warnings: ConfigWarning[] } {
  const warned = new Set<string>();
  const warnings: ConfigWarning[] = [];
  return {
    warnings,
    env: (name) => Deno.env.get(name),
    readFile: (path) => {
      try {
        const full = path.startsWith("/") ? path : `${baseDir}/${path}`;
        // Checked first: reading a device or a FIFO would block, or never end.
        const info = Deno.statSync(full);
        const kind = notRegular(info);
        if (kind) return new Error(`not a regular file (${kind})`);
        if (info.size > MAX_CONFIG_BYTES) return new Error(tooBig(info.size));
        const text = Deno.readTextFileSync(full);
        const warning = permissionWarning(path, info.mode, text);
        if (warning && !warned.has(full)) {
          warned.add(full);
          warnings.push(warning);
        }
        return text;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return new Error("no such file");
        if (error instanceof Deno.errors.PermissionDenied) return new Error("permission denied");
        return error instanceof Error ? error : new Error(String(error));
      }
    },
  };
}

/** A warning when a secret file's mode lets group or others read (or write) it. */
function permissionWarning(
  file: string,
  mode: number | null,
  text: string,
): ConfigWarning | undefined {
  if (mode === null) return undefined; // Windows: no POSIX mode
  // A certificate (or CA bundle) alone is public: only someone else writing it matters.
  const publicCert = text.includes("-----BEGIN CERTIFICATE-----") && !/PRIVATE KEY/.test(text);
  const open = mode & (publicCert ? 0o022 : 0o077);
  if (open === 0) return undefined;
  const octal = `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
  const who = open & 0o022 ? "written" : "read";
  return {
    file,
    mode: octal,
    message: `secret file ${file} has mode ${octal}: it can be ${who} by group or others ` +
      `(chmod 600 ${file})`,
  };
}

/**
 * The largest config file (or file a config names) that is read: a config is a few KiB, so a
 * bigger one is a mistake, refused with its size before it is read.
 */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** What a file is when it is not a regular file (a FIFO or a device would block or never end). */
function notRegular(info: Deno.FileInfo): string | undefined {
  if (info.isFile) return undefined;
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a file";
}

const tooBig = (size: number | string) =>
  `${size} bytes; a config file is at most 16 MiB (${MAX_CONFIG_BYTES} bytes)`;

/**
 * The text of a config file, or why it cannot be read: missing, not a regular file (checked with
 * `stat` before anything opens it, so a FIFO or `/dev/zero` is refused instead of read for ever)
 * or over {@link MAX_CONFIG_BYTES} (refused from its size, and the read stops there anyway in case
 * it grows). Invalid UTF-8 is read as U+FFFD, as `Deno.readTextFile` does.
 */
export async function readConfigText(
  path: string,
): Promise<{ ok: true; text: string } | { ok: false; message: string }> {
  const unreadable = (error: unknown) => ({
    ok: false as const,
    message: `cannot read ${path}: ${
      error instanceof Deno.errors.NotFound ? "no such file" : errorMessage(error)
    }`,
  });
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    return unreadable(error);
  }
  const kind = notRegular(info);
  if (kind) return { ok: false, message: `${path} is not a regular file (${kind})` };
  if (info.size > MAX_CONFIG_BYTES) {
    return { ok: false, message: `${path} is ${tooBig(info.size)}` };
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    using file = await Deno.open(path);
    const buffer = new Uint8Array(64 * 1024);
    while (total <= MAX_CONFIG_BYTES) {
      const n = await file.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
      total += n;
    }
  } catch (error) {
    return unreadable(error);
  }
  if (total > MAX_CONFIG_BYTES) {
    return { ok: false, message: `${path} is ${tooBig(`over ${MAX_CONFIG_BYTES}`)}` };
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  // UTF-16 (Notepad's "Unicode") would read as noise: say what it is instead.
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { ok: false, message: `${path} is UTF-16 text: save it as UTF-8` };
  }
  // The decoder drops a UTF-8 byte-order mark (Notepad writes one): it is not part of the JSON.
  return { ok: true, text: new TextDecoder("utf-8").decode(bytes) };
}

/** Reads and validates a config file; a missing or unreadable file is a problem, not a throw. */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  const read = await readConfigText(path);
  if (!read.ok) return { ok: false, problems: [{ path: "$", message: read.message }] };
  const text = read.text;
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  const sources = processSources(dir);
  const result = parseConfigText(text, sources);
  return result.ok && sources.warnings.length > 0
    ? { ...result, warnings: [...sources.warnings, ...(result.warnings ?? [])] }
    : result;
}

/** Prints problems one per line, the way `check` and `serve` report them. */
export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`);
  return `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${
    lines.join("\n")
  }`;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function describeJsonError(text: string, error: unknown): string {
  const message = errorMessage(error);
  const match = /position (\d+)/.exec(message);
  if (!match) return message;
  const offset = Number(match[1]);
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `${message.replace(/ in JSON at position \d+.*$/, "")} at line ${line}, column ${column}`;
}
