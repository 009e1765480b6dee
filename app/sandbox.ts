/**
 * Wiring of the development sandbox (config `sandbox`): the simulated health system and the
 * engine echo with their MLLP receivers on 127.0.0.1, their JSON routes on the engine's HTTP
 * app, and the admin routes (`/admin/sandbox`, behind the admin token).
 *
 * @module
 */

import { Hono } from "hono";
import type { Config } from "../actors/config/mod.ts";
import type { HttpSender, MllpConnector } from "../actors/ports.ts";
import type { Clock } from "../actors/runtime/clock.ts";
import type { Logger } from "../actors/runtime/log.ts";
import type { Secret } from "../actors/config/secret.ts";
import { EngineEcho, SimulatedHealthSystem } from "../actors/sandbox/mod.ts";
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

/** Starts the sandbox's peers; `config.sandbox` must be set. */
export async function startSandbox(
  config: Config,
  adapters: { log: Logger; mllpConnector: MllpConnector; httpSender: HttpSender; clock?: Clock },
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
      admin.route("/admin", createSandboxAdminApp({ ehr, mllpTarget: feed, log }));
      app.route("/", admin);
    },
    async close() {
      ehr.stop();
      echo.stop();
      await Promise.all([ehrServer.close(), echoServer.close()]);
    },
  };
}
