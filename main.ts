/**
 * The engine's command line: `serve --config FILE`, `check FILE`, `send HOST:PORT FILE...`,
 * `listen PORT`. Arguments only: `serve` is `compose()` (app/compose.ts) and a signal handler.
 * @module
 */

import {
  allocatorReport,
  compose,
  type ConfigWarning,
  containStrayErrors,
  createLogger,
  describeKv,
  errorMessage,
  formatProblems,
  kvLocation,
  type Level,
  listen,
  loadConfigFile,
  lockNode,
  parseConfig,
  processSources,
  runtimeProblems,
  sendFiles,
  startFailure,
} from "./app/mod.ts";
import { checkKvFile, checkKvFormat } from "./app/config_check.ts";
import { checkFdLimit } from "./app/fd_limit.ts";
import { BackupError, backupKv, describeBackup } from "./app/backup.ts";
import { KvIndexError, narrowKvIndex } from "./app/kv_index.ts";
import { AdminClient, AdminUnreachable, reachFailure, readAdminToken } from "./app/admin_client.ts";
import { runStatus } from "./app/status_command.ts";
import { ACTOR_COMMANDS, isActorCommand, runActorCommand } from "./app/actor_command.ts";

const USAGE = `usage:
  main.ts serve [--config FILE] [--log-level debug|info|warn|error]
  main.ts simulate [--event ADT^A01] [--count N] [--rate 50/s] [--format hl7v2|json]
                   [--url http://127.0.0.1:8080] [--token-file data/admin.token]
  main.ts check FILE [--kv]
  main.ts backup CONFIG OUT [--force] [--timeout SECONDS]
  main.ts kv-index CONFIG [--timeout SECONDS]
  main.ts send HOST:PORT FILE... [--timeout SECONDS]
  main.ts listen PORT [--reply AA|AE|AR] [--hostname ADDR]
  main.ts health URL
  main.ts status [URL] [--token-file data/admin.token] [--max-age SECONDS] [--all] [--json]
  main.ts actor [URL] ID pause|resume|retry|skip [--reason TEXT] [--by NAME]
                [--token-file data/admin.token]`;

function out(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

/**
 * A usage mistake of the commands that ask a running engine (`status`, `actor`, `simulate`):
 * EX_USAGE from sysexits.h, not 2, which for them says the engine could not be asked.
 */
const EX_USAGE = 64;

/** The exit code of a usage mistake of `command`. */
function usageExit(command: string | undefined): number {
  return command === "status" || command === "actor" || command === "simulate" ? EX_USAGE : 2;
}

function fail(message: string, code = 2): never {
  Deno.stderr.writeSync(new TextEncoder().encode(message + "\n"));
  Deno.exit(code);
}

/** Splits `--name value` options from positional arguments. */
function parseArgs(
  args: string[],
  usageCode: number,
): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
      else {
        const value = args[i + 1];
        if (value === undefined || value.startsWith("--")) {
          fail(`option ${a} needs a value\n${USAGE}`, usageCode);
        }
        flags.set(a.slice(2), value);
        i++;
      }
    } else positional.push(a);
  }
  return { positional, flags };
}

async function check(file: string, kv = false): Promise<void> {
  const result = await loadConfigFile(file);
  if (!result.ok) fail(formatProblems(file, result.problems), 1);
  const c = result.config;
  // What serve would refuse although the schema passes: TLS pairs, a KV URL without a token.
  const problems = runtimeProblems(c);
  if (problems.length > 0) fail(formatProblems(file, problems), 1);
  for (const w of result.warnings ?? []) warnLine(`${file}: warning: ${w.message}`);
  const counted = [
    count(c.integrations.length, "integration"),
    count(c.destinations.length, "destination"),
    count(c.subscriptions.length, "subscription"),
  ];
  out(`${file}: valid (${counted.join(", ")})`);
  out(`  ${describeKv(c)}`);
  // --kv: the KV file's integrity, as serve checks it in the background at start.
  if (kv) {
    const r = await checkKvFile(c);
    if (!r.ok) fail(`  ${r.text}`, 1);
    out(`  ${r.text}`);
    // What serve would find: a KV a newer engine wrote is refused, as serve refuses it.
    const f = await checkKvFormat(c);
    if (!f.ok) fail(`  ${f.text}`, 1);
    out(`  ${f.text}`);
  }
}

/** `backup CONFIG OUT`: a consistent copy of the config's local KV file (app/backup.ts). */
async function backup(
  file: string,
  target: string,
  options: { force: boolean; lockTimeoutMs: number },
): Promise<void> {
  const result = await loadConfigFile(file);
  if (!result.ok) fail(formatProblems(file, result.problems), 1);
  try {
    for (const line of describeBackup(await backupKv(result.config, target, options))) out(line);
  } catch (error) {
    fail(error instanceof BackupError ? error.message : `backup: ${errorMessage(error)}`, 1);
  }
}

async function kvIndex(file: string, lockTimeoutMs: number): Promise<void> {
  const result = await loadConfigFile(file);
  if (!result.ok) fail(formatProblems(file, result.problems), 1);
  try {
    out(await narrowKvIndex(result.config, { lockTimeoutMs }));
  } catch (error) {
    fail(error instanceof KvIndexError ? error.message : `kv-index: ${errorMessage(error)}`, 1);
  }
}

function warnLine(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
}

/** The start's word on the config: where the KV is, and secret files others may read. */
function logConfig(
  log: ReturnType<typeof createLogger>,
  kvPath: string,
  warnings: readonly ConfigWarning[],
): void {
  const kv = kvLocation(kvPath);
  log.info("engine.kv-path", {
    path: kv.absolute,
    ...(kv.relative ? { configured: kvPath, relativeTo: kv.cwd } : {}),
  });
  for (const w of warnings) {
    if (w.file === undefined) {
      log.warn("config.warning", { path: w.path, message: w.message });
      continue;
    }
    log.warn("config.secret-file-mode", {
      file: w.file,
      mode: w.mode,
      hint: `chmod 600 ${w.file}`,
    });
  }
}

async function serve(file: string | undefined, level: Level): Promise<void> {
  const log = createLogger({ level });
  // Anything that slips past its handler is logged and contained: the engine keeps running.
  containStrayErrors(log);
  // No config: every default, and the development sandbox as a counterpart to try things with.
  const result = file === undefined
    ? parseConfig({ sandbox: true }, processSources())
    : await loadConfigFile(file);
  if (!result.ok) fail(formatProblems(file ?? "(no config)", result.problems), 1);
  // One running engine per node id on a KV file, held until the process ends (app/node_lock.ts).
  let nodeLocked = false;
  try {
    nodeLocked =
      await lockNode({ kvPath: result.config.kv.path, nodeId: result.config.node.id }) !==
        undefined;
  } catch (error) {
    fail(errorMessage(error), 1);
  }
  let composed: Awaited<ReturnType<typeof compose>> | undefined;
  // SIGHUP reads the config file again (as POST /admin/config/reload); the answer is logged.
  // Listened for before the engine starts: the default action of an early SIGHUP is to exit.
  if (file !== undefined && Deno.build.os !== "windows") {
    Deno.addSignalListener("SIGHUP", () => {
      if (composed) void composed.reload("SIGHUP");
      else log.warn("config.reload-ignored", { reason: "the engine is still starting" });
    });
  }
  try {
    composed = await compose(result.config, {
      log,
      nodeLocked,
      ...(file ? { configFile: file } : {}),
    });
  } catch (error) {
    // compose() closed whatever it had opened; its message names the step that failed.
    fail(startFailure(error), 1);
  }
  // The KV file the engine opened, absolute (a relative kv.path is relative to the working
  // directory), and secret files others may read: said once the start succeeded, so a refused
  // start keeps its one line.
  logConfig(log, result.config.kv.path, result.warnings ?? []);
  let stopping = false;
  // Drains first (compose.ts stop): what was received is committed and answered, what comes
  // meanwhile is refused, within the grace; a second signal stops at once.
  const stop = async (signal: string) => {
    if (stopping) {
      log.warn("engine.stop-forced", { signal });
      Deno.exit(1);
    }
    stopping = true;
    // What is in flight gets 10 s (compose.ts DEFAULT_STOP_GRACE_MS): the intake drains first,
    // deliveries going on; then (at the latest 2 s before the end) the delivery actors take in
    // the ACKs of what they have on the wire. The rest of the close 5 s.
    const graceMs = 10_000;
    const backstopMs = graceMs + 5_000;
    log.info("engine.stopping", { signal, graceMs, ...composed.intake() });
    // A close that hangs past the grace (a store that never answers) does not keep the process.
    const backstop = setTimeout(() => {
      log.error("engine.stop-timeout", { signal, afterMs: backstopMs });
      Deno.exit(1);
    }, backstopMs);
    const r = await composed.stop({ graceMs });
    clearTimeout(backstop);
    const left = r.mllp.unanswered + (r.http?.unanswered ?? 0);
    log[left > 0 || r.deliveries.unmarked > 0 ? "warn" : "info"]("engine.stopped", {
      signal,
      drainMs: r.drainMs,
      answered: r.mllp.answered + (r.http?.answered ?? 0),
      refused: r.mllp.refused + (r.http?.refused ?? 0),
      unanswered: left,
      mllp: r.mllp,
      ...(r.http ? { http: r.http } : {}),
      // What the delivery actors had on the wire: marked, or left to be sent again.
      deliveriesMarked: r.deliveries.marked,
      deliveriesUnmarked: r.deliveries.unmarked,
    });
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
  // Said after the signals are listened for: tests (and operators' scripts) take the allocator
  // line as the engine's last start line, and a SIGTERM sent then must drain, not kill.
  // Which malloc runs matters to the CPU per message: said once, with how to preload jemalloc.
  log.info("engine.allocator", allocatorReport());
  // Every connection is a file descriptor: a soft limit below what the caps can hold open is said.
  const fdLimit = await checkFdLimit(result.config);
  if (fdLimit) log.warn("engine.fd-limit", { ...fdLimit });
}

async function send(target: string, files: string[], timeoutSeconds: number): Promise<void> {
  const m = /^(.+):(\d+)$/.exec(target);
  if (!m) fail(`send: expected HOST:PORT, got ${JSON.stringify(target)}\n${USAGE}`);
  if (files.length === 0) fail(`send: name at least one file\n${USAGE}`);
  let bad = 0;
  try {
    const results = await sendFiles({
      host: m[1]!.replace(/^\[|\]$/g, ""),
      port: Number(m[2]),
      files,
      timeoutMs: timeoutSeconds * 1000,
      onResult: (r) => {
        const ok = r.code === "AA" || r.code === "CA";
        if (!ok) bad++;
        const label = `${r.file} #${r.index} ${r.controlId ?? "(no MSH-10)"}`;
        if (r.notSent !== undefined) return out(`${label}: not sent: ${r.notSent}`);
        out(`${label}: ${r.code}`);
        // The reason first, escapes decoded; then the ACK as it came on the wire.
        for (const e of r.errors ?? []) {
          const name = e.code ? ` ${e.code}${e.name ? ` (${e.name})` : ""}` : "";
          out(`  error${name}: ${e.text}`);
        }
        if (r.ack) out("  " + r.ack.replace(/\r\n?|\n/g, "\n  ").trimEnd());
      },
    });
    if (results.length === 0) bad++;
  } catch (error) {
    fail(`send: ${errorMessage(error)}`, 1);
  }
  if (bad > 0) Deno.exit(1);
}

/** Asks a running engine's simulated health system to send (POST /admin/sandbox/send). */
async function simulate(flags: Map<string, string>): Promise<void> {
  const url = (flags.get("url") ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
  const tokenFile = flags.get("token-file") ?? "./data/admin.token";
  let token = Deno.env.get("ENGINE_ADMIN_TOKEN") ?? "";
  if (!token) {
    try {
      token = (await Deno.readTextFile(tokenFile)).trim();
    } catch (error) {
      // 2 as for `status` and `actor`: without its token the engine cannot be asked.
      fail(`simulate: cannot read the admin token from ${tokenFile}: ${errorMessage(error)}`, 2);
    }
  }
  const count = Number(flags.get("count") ?? 1);
  // Checked here: NaN would travel as null and the engine would read a missing count (1).
  if (!Number.isInteger(count) || count < 1) {
    fail("simulate: --count must be a whole number of at least 1", EX_USAGE);
  }
  const rateText = flags.get("rate");
  const rate = rateText === undefined ? undefined : Number(rateText.replace(/\/s$/, ""));
  if (rate !== undefined && !(rate > 0)) fail("simulate: --rate must be like 50/s", EX_USAGE);
  const body = {
    count,
    ...(flags.get("event") ? { event: flags.get("event") } : {}),
    ...(rate ? { rate } : {}),
    ...(flags.get("format") ? { format: flags.get("format") } : {}),
  };
  let response: Response;
  try {
    response = await fetch(`${url}/admin/sandbox/send`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    // Said and coded as `status` and `actor` say it: 2, the engine cannot be asked.
    fail(`simulate: ${reachFailure(url, error)}`, 2);
  }
  const text = await response.text();
  if (response.status === 404) {
    fail(`simulate: the engine at ${url} has no sandbox (config "sandbox": true)`, 1);
  }
  if (!response.ok) {
    // A refusal names the field at fault in `error`: that is the line, not the JSON around it.
    let reason = text;
    try {
      const error = (JSON.parse(text) as { error?: unknown }).error;
      if (typeof error === "string") reason = error;
    } catch { /* not JSON: shown as it came */ }
    fail(`simulate: ${response.status === 400 ? "" : `HTTP ${response.status}: `}${reason}`, 1);
  }
  const r = JSON.parse(text) as Record<string, unknown>;
  out(
    `sent ${r.sent} (${r.generated} generated): ${r.accepted} accepted, ${r.refused} refused, ` +
      `${r.failed} failed in ${r.durationMs} ms`,
  );
  for (const [label, n] of Object.entries((r.byLabel ?? {}) as Record<string, number>)) {
    out(`  ${label} ${n}`);
  }
  for (const e of (r.errors ?? []) as string[]) out(`  error: ${e}`);
  if ((r.refused as number) > 0 || (r.failed as number) > 0) Deno.exit(1);
}

/** The engine's URL (first positional when it is one, else `--url`) and the rest of them. */
function engineUrl(
  positional: string[],
  flags: Map<string, string>,
): { url: string; rest: string[] } {
  const first = positional[0];
  if (first !== undefined && /^https?:\/\//i.test(first)) {
    return { url: first, rest: positional.slice(1) };
  }
  return { url: flags.get("url") ?? "http://127.0.0.1:8080", rest: positional };
}

/**
 * The admin API client of `status` and `actor`: the token from `ENGINE_ADMIN_TOKEN` or
 * `--token-file` (never the command line), and how the printed commands name it.
 */
async function adminClient(
  command: string,
  url: string,
  flags: Map<string, string>,
): Promise<{ client: AdminClient; tokenArgs: string }> {
  const tokenFile = flags.get("token-file") ?? "./data/admin.token";
  try {
    const token = await readAdminToken(tokenFile);
    const fromEnv = (Deno.env.get("ENGINE_ADMIN_TOKEN") ?? "").trim() !== "";
    // How the printed commands name the token: the same file (or the environment), not its value.
    const tokenArgs = fromEnv || !flags.has("token-file")
      ? ""
      : ` --token-file '${tokenFile.replaceAll("'", "'\\''")}'`;
    return { client: new AdminClient(url, token), tokenArgs };
  } catch (error) {
    if (error instanceof AdminUnreachable) fail(`${command}: ${error.message}`, 2);
    throw error;
  }
}

/** Why `listen` could not start, in one line: a port in use is said as such. */
function listenFailure(port: number, hostname: string, error: unknown): string {
  const message = errorMessage(error);
  if (error instanceof Deno.errors.AddrInUse || /address already in use/i.test(message)) {
    return `port ${port} on ${hostname} is in use (another program listens there): ` +
      "stop it or choose another port";
  }
  return message;
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  // `check FILE --kv` and `backup CONFIG OUT --force` are the options without a value.
  const kvCheck = command === "check" && rest.includes("--kv");
  const force = command === "backup" && rest.includes("--force");
  // `status --all --json`: options without a value too.
  const statusAll = command === "status" && rest.includes("--all");
  const statusJson = command === "status" && rest.includes("--json");
  const { positional, flags } = parseArgs(
    rest.filter((a) =>
      !(kvCheck && a === "--kv") && !(force && a === "--force") &&
      !(statusAll && a === "--all") && !(statusJson && a === "--json")
    ),
    usageExit(command),
  );
  switch (command) {
    case "serve": {
      const file = flags.get("config") ?? positional[0];
      const level = (flags.get("log-level") ?? "info") as Level;
      if (!["debug", "info", "warn", "error"].includes(level)) {
        fail(`serve: unknown --log-level ${level}`);
      }
      return await serve(file, level);
    }
    case "simulate":
      return await simulate(flags);
    case "check": {
      const file = positional[0] ?? flags.get("config");
      if (!file) fail(`check: name the config file\n${USAGE}`);
      return await check(file, kvCheck);
    }
    case "backup": {
      const [file, target] = positional;
      if (!file || !target) fail(`backup: name the config file and the copy to write\n${USAGE}`);
      const timeout = Number(flags.get("timeout") ?? 10);
      if (!(timeout > 0)) fail("backup: --timeout must be a positive number of seconds");
      return await backup(file, target, { force, lockTimeoutMs: timeout * 1000 });
    }
    case "kv-index": {
      const file = positional[0];
      if (!file) fail(`kv-index: name the config file\n${USAGE}`);
      const timeout = Number(flags.get("timeout") ?? 10);
      if (!(timeout > 0)) fail("kv-index: --timeout must be a positive number of seconds");
      return await kvIndex(file, timeout * 1000);
    }
    case "send": {
      const timeout = Number(flags.get("timeout") ?? 30);
      if (!(timeout > 0)) fail("send: --timeout must be a positive number of seconds");
      return await send(positional[0] ?? "", positional.slice(1), timeout);
    }
    case "listen": {
      const port = Number(positional[0]);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        fail(`listen: expected a port number\n${USAGE}`);
      }
      const reply = (flags.get("reply") ?? "AA").toUpperCase();
      if (reply !== "AA" && reply !== "AE" && reply !== "AR") {
        fail("listen: --reply must be AA, AE or AR");
      }
      try {
        await listen({
          port,
          reply,
          ...(flags.get("hostname") ? { hostname: flags.get("hostname")! } : {}),
          print: out,
          log: createLogger({ level: "info" }),
        });
      } catch (error) {
        fail(`listen: ${listenFailure(port, flags.get("hostname") ?? "0.0.0.0", error)}`, 1);
      }
      out(`listening for MLLP on port ${port}, answering ${reply}`);
      return;
    }
    case "health": {
      // The container's HEALTHCHECK: the runtime image has the binary and nothing else.
      const url = positional[0];
      if (!url) fail(`health: name the URL, e.g. http://127.0.0.1:8080/healthz\n${USAGE}`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await res.body?.cancel();
        out(`${url}: ${res.status}`);
        if (res.status !== 200) Deno.exit(1);
      } catch (error) {
        fail(`health: ${url}: ${errorMessage(error)}`, 1);
      }
      return;
    }
    case "status": {
      const { url, rest: extra } = engineUrl(positional, flags);
      if (extra.length > 0) {
        fail(`status: unexpected ${JSON.stringify(extra[0])}\n${USAGE}`, EX_USAGE);
      }
      const maxAge = Number(flags.get("max-age") ?? 60);
      if (!(maxAge > 0)) fail("status: --max-age must be a positive number of seconds", EX_USAGE);
      const { client, tokenArgs } = await adminClient("status", url, flags);
      const code = await runStatus(
        client,
        { maxAgeSeconds: maxAge, tokenArgs, all: statusAll, json: statusJson },
        out,
        warnLine,
      );
      if (code !== 0) Deno.exit(code);
      return;
    }
    case "actor": {
      const { url, rest: extra } = engineUrl(positional, flags);
      const [id, name] = extra;
      if (!id || !name || extra.length > 2) {
        fail(`actor: name the actor and one of ${ACTOR_COMMANDS.join(", ")}\n${USAGE}`, EX_USAGE);
      }
      if (!isActorCommand(name)) {
        fail(
          `actor: unknown command ${JSON.stringify(name)}: one of ${ACTOR_COMMANDS.join(", ")}`,
          EX_USAGE,
        );
      }
      const reason = flags.get("reason") ?? "";
      if (name === "skip" && reason.trim() === "") {
        fail("actor: skip needs --reason TEXT (it is logged with who skipped)", EX_USAGE);
      }
      const { client } = await adminClient("actor", url, flags);
      const code = await runActorCommand(
        client,
        { id, command: name, reason, by: flags.get("by") ?? "cli" },
        out,
        warnLine,
      );
      if (code !== 0) Deno.exit(code);
      return;
    }
    case "help":
    case "--help":
    case "-h":
      out(USAGE);
      return;
    case undefined:
      return fail(`name a command\n${USAGE}`);
    default:
      fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

if (import.meta.main) await main(Deno.args);

/** `n` and `noun`, plural unless one: "1 integration", "3 destinations". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
