/**
 * Wiring of the development sandbox (config `sandbox`): the simulated health system and the
 * engine echo with their MLLP receivers on 127.0.0.1, their JSON routes on the engine's HTTP
 * app, and the admin routes (`/admin/sandbox`, behind the admin token).
 *
 * @module
 */

import { Hono } from "hono";
import type { Config } from "../actors/config/mod.ts";
import type { AuthStateStore, HttpSender, MllpConnector } from "../actors/ports.ts";
import { SANDBOX_CLIENT_ID, SANDBOX_IDS } from "../actors/config/mod.ts";
import type { Clock } from "../actors/runtime/clock.ts";
import type { Logger } from "../actors/runtime/log.ts";
import type { Secret } from "../actors/config/secret.ts";
import { EngineEcho, SimulatedHealthSystem } from "../actors/sandbox/mod.ts";
import { AccessTokens } from "../transports/http/access_token.ts";
import { requireBearer } from "../transports/http/auth.ts";
import { createSandboxAdminApp, createSandboxApp } from "../transports/http/sandbox.ts";
import { type MllpServer, serveMllp } from "../transports/mllp/server.ts";

/** The running sandbox. */
export interface Sandbox {
  readonly ehr: SimulatedHealthSystem;
  readonly echo: EngineEcho;
  /** The simulated EHR's and the echo's MLLP receivers. */
  readonly servers: { readonly ehr: MllpServer; readonly echo: MllpServer };
  /** Where the simulated EHR sends HL7 v2: the engine's sandbox integration. */
  readonly feed: { readonly host: string; readonly port: number };
  /** Adds the receivers' routes and the admin routes to the engine's HTTP app. */
  mount(app: Hono, token: Secret): void;
  close(): Promise<void>;
}

/** How long the sandbox's own access tokens live (it makes a new one before this runs out). */
const TOKEN_SECONDS = 3600;

/**
 * The `Authorization` header of the sandbox's API source: a token the sandbox issues itself
 * (signed with the engine's key in KV), made again a minute before it expires. Real time: the
 * endpoint checks expiry on the real clock.
 */
function ownToken(
  auth: AuthStateStore,
  environment: string,
): () => Promise<Record<string, string>> {
  let tokens: Promise<AccessTokens> | undefined;
  let current: { token: string; until: number } | undefined;
  return async () => {
    const now = Date.now();
    if (!current || current.until - 60_000 < now) {
      tokens ??= AccessTokens.open({ state: auth, lifetimeSeconds: TOKEN_SECONDS });
      const t = await (await tokens).issue({
        sourceId: SANDBOX_IDS.api,
        environment,
        clientId: SANDBOX_CLIENT_ID,
      });
      current = { token: t.token, until: now + t.expiresIn * 1000 };
    }
    return { authorization: `Bearer ${current.token}` };
  };
}

/**
 * Starts the sandbox's peers; `config.sandbox` must be set. With `auth` (the engine's store)
 * the simulated EHR sends JSON to `POST /endpoint` as its own API source.
 */
export async function startSandbox(
  config: Config,
  adapters: {
    log: Logger;
    mllpConnector: MllpConnector;
    httpSender: HttpSender;
    clock?: Clock;
    auth?: AuthStateStore;
  },
): Promise<Sandbox> {
  const s = config.sandbox;
  if (!s) throw new Error("no sandbox in the config");
  const { log } = adapters;
  const ehr = new SimulatedHealthSystem({
    seed: s.seed,
    registrySize: s.registrySize,
    connector: adapters.mllpConnector,
    http: adapters.httpSender,
    log,
    ...(adapters.clock ? { clock: adapters.clock } : {}),
  });
  const echo = new EngineEcho({
    connector: adapters.mllpConnector,
    http: adapters.httpSender,
    log,
    returnMllp: { host: "127.0.0.1", port: s.echoReturnPort },
  });
  const ehrServer = await serveMllp({
    port: s.ehrPort,
    hostname: "127.0.0.1",
    inbox: ehr.receiver,
    log,
  });
  let echoServer: MllpServer;
  try {
    echoServer = await serveMllp({ port: s.echoPort, hostname: "127.0.0.1", inbox: echo, log });
  } catch (error) {
    await ehrServer.close();
    throw error;
  }
  const feed = { host: "127.0.0.1", port: s.feedPort };
  const json = adapters.auth
    ? { url: s.endpointUrl, headers: ownToken(adapters.auth, s.environment) }
    : undefined;
  if (s.schedule) {
    const { schedule } = s;
    if (schedule.format === "json" && !json) {
      await Promise.all([ehrServer.close(), echoServer.close()]);
      throw new Error("sandbox.schedule: JSON needs the engine's API (its store)");
    }
    ehr.schedule({
      to: schedule.format === "json" ? { https: json! } : { mllp: feed },
      count: schedule.count,
      everyMs: schedule.everySeconds * 1000,
      ...(schedule.event !== undefined ? { event: schedule.event } : {}),
      ...(schedule.rate !== undefined ? { ratePerSecond: schedule.rate } : {}),
    }, (report) =>
      log.info("sandbox.scheduled-round", {
        format: schedule.format,
        generated: report.generated,
        accepted: report.accepted,
        refused: report.refused,
        failed: report.failed,
      }));
  }
  log.info("sandbox.started", {
    environment: s.environment,
    patients: ehr.registry.patients.length,
    feed: `127.0.0.1:${s.feedPort}`,
    ehr: `127.0.0.1:${ehrServer.port}`,
    echo: `127.0.0.1:${echoServer.port}`,
  });
  return {
    ehr,
    echo,
    servers: { ehr: ehrServer, echo: echoServer },
    feed,
    mount(app, token) {
      app.route("/", createSandboxApp({ ehr: ehr.receiver, echo }));
      const admin = new Hono();
      const auth = requireBearer({ token, log });
      admin.use("/admin/sandbox", auth);
      admin.use("/admin/sandbox/*", auth);
      admin.route(
        "/admin",
        createSandboxAdminApp({
          ehr,
          mllpTarget: feed,
          ...(json ? { httpsTarget: json } : {}),
          log,
        }),
      );
      app.route("/", admin);
    },
    async close() {
      ehr.stop();
      echo.stop();
      await Promise.all([ehrServer.close(), echoServer.close()]);
    },
  };
}
