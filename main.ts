/**
 * The engine's command line: `serve --config FILE`, `check FILE`, `send HOST:PORT FILE...`,
 * `listen PORT`. Wiring only: everything it starts lives in actors/ and transports/.
 * @module
 */

import { Hono } from "hono";
import { type Config, formatProblems, loadConfigFile, Secret } from "./actors/config/mod.ts";
import { Engine } from "./actors/engine/engine.ts";
import { createLogger, type Level, type Logger } from "./actors/runtime/log.ts";
import { healthReport } from "./actors/runtime/health.ts";
import { containStrayErrors } from "./actors/runtime/stray_errors.ts";
import { createAdminApp } from "./transports/http/mod.ts";
import { socketMllpConnector } from "./transports/mllp/client.ts";
import { listen } from "./transports/mllp/listen.ts";
import { sendFiles } from "./transports/mllp/send.ts";
import { type MllpServer, serveMllp } from "./transports/mllp/server.ts";
import { FetchSender } from "./transports/https/mod.ts";
import { AccessTokens } from "./transports/http/access_token.ts";
import { ClientAssertionVerifier } from "./transports/http/client_assertion.ts";
import { createEndpointApp } from "./transports/http/endpoint.ts";
import { type PublicServer, servePublic } from "./transports/http/serve.ts";
import { createTokenApp, tokenUrlFor } from "./transports/http/token_endpoint.ts";
import { RateLimiter } from "./transports/http/rate_limit.ts";
import { hostedOutboxSessions, HostedSftpServer, sshSftpConnector } from "./transports/sftp/mod.ts";
import { isTemporaryName } from "./actors/sftp/mod.ts";
import { errorMessage } from "./actors/mod.ts";

const USAGE = `usage:
  main.ts serve --config FILE [--log-level debug|info|warn|error]
  main.ts check FILE
  main.ts send HOST:PORT FILE... [--timeout SECONDS]
  main.ts listen PORT [--reply AA|AE|AR] [--hostname ADDR]`;

function out(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

function fail(message: string, code = 2): never {
  Deno.stderr.writeSync(new TextEncoder().encode(message + "\n"));
  Deno.exit(code);
}

/** Splits `--name value` options from positional arguments. */
function parseArgs(args: string[]): { positional: string[]; flags: Map<string, string> } {
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
          fail(`option ${a} needs a value\n${USAGE}`);
        }
        flags.set(a.slice(2), value);
        i++;
      }
    } else positional.push(a);
  }
  return { positional, flags };
}

async function check(file: string): Promise<void> {
  const result = await loadConfigFile(file);
  if (!result.ok) fail(formatProblems(file, result.problems), 1);
  const c = result.config;
  out(
    `${file}: valid (${c.integrations.length} integrations, ${c.destinations.length} destinations, ${c.subscriptions.length} subscriptions)`,
  );
}

/** The admin token: configured, or generated once into the KV folder (never printed). */
async function adminToken(config: Config, log: Logger): Promise<Secret> {
  if (config.admin.token) return config.admin.token;
  const dir = /^https?:|^:memory:$/.test(config.kv.path)
    ? "./data"
    : config.kv.path.slice(0, Math.max(config.kv.path.lastIndexOf("/"), 0)) || ".";
  const path = `${dir}/admin.token`;
  try {
    const existing = (await Deno.readTextFile(path)).trim();
    if (existing) {
      log.info("admin.token", { from: path });
      return new Secret(existing, `file:${path}`);
    }
  } catch { /* not there yet */ }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(path, token + "\n", { mode: 0o600 });
  log.info("admin.token-generated", {
    file: path,
    hint: "send it as Authorization: Bearer <token>",
  });
  return new Secret(token, `file:${path}`);
}

async function serve(file: string, level: Level): Promise<void> {
  const log = createLogger({ level });
  // Anything that slips past its handler is logged and contained: the engine keeps running.
  containStrayErrors(log);
  const result = await loadConfigFile(file);
  if (!result.ok) fail(formatProblems(file, result.problems), 1);
  const config = result.config;
  const httpSender = new FetchSender();
  let engine: Engine;
  try {
    engine = await Engine.start({
      config,
      log,
      mllpConnector: socketMllpConnector,
      httpSender,
      sftp: {
        connector: sshSftpConnector,
        outboxSessions: (user) =>
          hostedOutboxSessions(config.sftpServer?.root ?? "./data/sftp", user),
      },
    });
  } catch (error) {
    // Typically the KV file: a folder that cannot be written, a full disk, a KV Connect refusal.
    fail(`cannot start the engine (kv ${config.kv.path}): ${errorMessage(error)}`, 1);
  }
  let hosted: HostedSftpServer | undefined;
  const s = config.sftpServer;
  if (s) {
    const integrations = new Map(config.integrations.map((i) => [i.id, i]));
    try {
      hosted = await HostedSftpServer.start({
        ...s,
        hostKey: s.hostKey.reveal(),
        maxFileBytes: config.limits.maxHl7Bytes,
        holdBack: isTemporaryName,
        log,
        onUpload: async (u) => {
          const integration = integrations.get(u.integration);
          if (!integration) throw new Error(`no integration ${u.integration}`);
          await engine.files.ingest({
            integration,
            fileName: u.fileName,
            bytes: u.bytes,
            peer: u.peer,
          });
        },
      });
    } catch (error) {
      await engine.stop();
      fail(`cannot start the SFTP server: ${errorMessage(error)}`, 1);
    }
  }
  const servers: MllpServer[] = [];
  try {
    for (const port of engine.inbox.ports) {
      const l = config.listeners.find((x) => x.port === port);
      servers.push(
        await serveMllp({
          port,
          hostname: l?.hostname ?? "0.0.0.0",
          requireFinalCr: l?.requireFinalCr ?? true,
          frameTimeoutMs: config.limits.frameTimeoutSeconds * 1000,
          maxConnections: config.limits.maxConnectionsPerListener,
          maxConnectionsPerPeer: config.limits.maxConnectionsPerPeer,
          ...(l?.tls
            ? {
              tls: {
                cert: l.tls.cert.reveal(),
                key: l.tls.key.reveal(),
                ...(l.tls.ca ? { ca: l.tls.ca.reveal() } : {}),
                requireClientCert: l.tls.requireClientCert,
              },
            }
            : {}),
          inbox: engine.inbox,
          log,
        }),
      );
    }
  } catch (error) {
    await engine.stop();
    fail(`cannot listen: ${errorMessage(error)}`, 1);
  }
  const app = new Hono();
  app.get("/healthz", async (c) => {
    const report = await healthReport({
      node: config.node.id,
      store: engine.store,
      supervisor: engine.supervisor,
      listeners: servers,
    });
    return c.json(report, report.status === "ok" ? 200 : 503, { "cache-control": "no-store" });
  });
  app.get("/metrics", async (c) => {
    const actors = await engine.supervisor.statuses();
    const lines = [
      "# TYPE engine_queue_depth gauge",
      ...actors.map((a) => `engine_queue_depth{actor="${a.id}",kind="${a.kind}"} ${a.queueDepth}`),
      "# TYPE engine_kv_commits_total counter",
      `engine_kv_commits_total ${engine.store.commitStats.batches}`,
      "# TYPE engine_kv_writes_total counter",
      `engine_kv_writes_total ${engine.store.commitStats.writes}`,
      "# TYPE engine_mllp_connections gauge",
      ...servers.map((s) => `engine_mllp_connections{port="${s.port}"} ${s.connections}`),
    ];
    return c.text(lines.join("\n") + "\n", 200, { "content-type": "text/plain; version=0.0.4" });
  });
  let token: Secret;
  try {
    token = await adminToken(config, log);
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    await hosted?.stop();
    await engine.stop();
    fail(`cannot create the admin token: ${errorMessage(error)}`, 1);
  }
  const https = engine.https;
  app.route(
    "/",
    createAdminApp({
      supervisor: engine.supervisor,
      store: engine.store,
      token,
      log,
      ...(https
        ? {
          destinations: {
            list: () => https.list(),
            verify: (id: string) =>
              https.verify(id)?.then(async (result) => {
                // A production queue waiting on its verification goes now, not at its next retry.
                if (result.verified) {
                  await engine.supervisor.command(`https:${id}`, "retry", "admin", "verified");
                }
                return result;
              }),
          },
        }
        : {}),
    }),
  );
  // The JSON API: OAuth 2.0 client credentials, then data-model messages.
  const tokens = await AccessTokens.open({ state: engine.store.auth });
  app.route(
    "/",
    createTokenApp({
      sources: config.sources,
      tokens,
      assertions: new ClientAssertionVerifier({
        sources: config.sources,
        state: engine.store.auth,
      }),
      ...(config.http.publicUrl ? { tokenUrls: [tokenUrlFor(config.http.publicUrl)] } : {}),
      // Token requests are few; more than this per address in 5 minutes is a misbehaving client.
      rateLimiter: new RateLimiter({ limit: 300, windowMs: 300_000 }),
      log,
    }),
  );
  app.route(
    "/",
    createEndpointApp({
      tokens,
      inbox: engine.api,
      queries: engine.queries,
      limits: config.limits,
      log,
    }),
  );
  let http: PublicServer;
  try {
    http = await servePublic({ fetch: app.fetch, http: config.http, limits: config.limits, log });
  } catch (error) {
    await hosted?.stop();
    await Promise.all(servers.map((s) => s.close()));
    await engine.stop();
    fail(`cannot serve HTTP: ${errorMessage(error)}`, 1);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("engine.stopping", { signal });
    await http.shutdown();
    await Promise.all(servers.map((s) => s.close()));
    // The hosted folder may be storing an upload: it stops before the store closes.
    await hosted?.stop();
    await engine.stop();
    httpSender.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
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
        out(`${r.file} #${r.index} ${r.controlId ?? "(no MSH-10)"}: ${r.code}`);
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

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  const { positional, flags } = parseArgs(rest);
  switch (command) {
    case "serve": {
      const file = flags.get("config") ?? positional[0];
      if (!file) fail(`serve: --config FILE is required\n${USAGE}`);
      const level = (flags.get("log-level") ?? "info") as Level;
      if (!["debug", "info", "warn", "error"].includes(level)) {
        fail(`serve: unknown --log-level ${level}`);
      }
      return await serve(file, level);
    }
    case "check": {
      const file = positional[0] ?? flags.get("config");
      if (!file) fail(`check: name the config file\n${USAGE}`);
      return await check(file);
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
      await listen({
        port,
        reply,
        ...(flags.get("hostname") ? { hostname: flags.get("hostname")! } : {}),
        print: out,
        log: createLogger({ level: "info" }),
      });
      out(`listening for MLLP on port ${port}, answering ${reply}`);
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
