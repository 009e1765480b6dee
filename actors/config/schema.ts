/**
 * The shape of the engine's one JSON config file, as zod schemas. Secrets are references
 * (`{"env": "NAME"}` or `{"file": "path"}`) resolved while parsing, so a missing variable is a
 * config error at its JSON path like any other.
 *
 * The sections, each in a module of its own: `schema_values.ts` (ports, ids, durations, time
 * zones, addresses), `schema_secret.ts` (secret references), `schema_server.ts` (node, cluster,
 * kv, http, admin, environments), `schema_limits.ts`, `schema_inbound.ts` (sources, listeners,
 * integrations, the hosted SFTP server), `schema_destination.ts` and `schema_flows.ts`
 * (subscriptions, connections); `alerts.ts` has the alerts. This module puts them together as
 * {@link configSchema}.
 * @module
 */

import type { SandboxConfig } from "./sandbox.ts";
import { z } from "zod";
import { alertsSchema } from "./alerts.ts";
import { type ConfigSources, secretSchema } from "./schema_secret.ts";
import { serverSchemas } from "./schema_server.ts";
import { limitsSchema } from "./schema_limits.ts";
import { inboundSchemas } from "./schema_inbound.ts";
import { destinationSchema } from "./schema_destination.ts";
import { flowSchemas } from "./schema_flows.ts";

export type { ConfigSources } from "./schema_secret.ts";
export { MIN_ADMIN_TOKEN_LENGTH } from "./schema_server.ts";

/** Builds the schema; secret references are resolved through `sources`. */
// The schema's inferred type is the contract (see `Config`); spelling it out would duplicate it.
// deno-lint-ignore explicit-module-boundary-types
export function configSchema(sources: ConfigSources) {
  const secret = secretSchema(sources);
  const { tlsServer, tlsClient, node, cluster, kv, http, admin, environment } = serverSchemas(
    secret,
  );
  const limits = limitsSchema();
  const { msh, sftpEndpoint, source, listener, integration, sftpServer } = inboundSchemas(
    secret,
    tlsServer,
  );
  const destination = destinationSchema(secret, { msh, sftpEndpoint, tlsClient });
  const { subscription, connection } = flowSchemas();

  return z.strictObject({
    $schema: z.string().optional(),
    node: node.default({ id: "node-1" }),
    kv: kv.default({ path: "./data/engine.kv" }),
    cluster: cluster.prefault({}),
    http: http.default({ port: 8080, hostname: "127.0.0.1", development: true }),
    admin: admin.prefault({}),
    limits: limits.default(() => limits.parse({})),
    environments: z.array(environment).min(1).default([
      { id: "development", type: "development" },
      { id: "staging", type: "staging" },
      { id: "production", type: "production" },
    ]),
    sources: z.array(source).default([]),
    listeners: z.array(listener).default([]),
    integrations: z.array(integration).default([]),
    sftpServer: sftpServer.optional(),
    destinations: z.array(destination).default([]),
    subscriptions: z.array(subscription).default([]),
    connections: z.array(connection).default([]),
    /** Alert channels and rules (checked in alerts.ts). */
    alerts: alertsSchema(secret).prefault({}),
    /** Named code tables for `translate` (checked in shaping.ts). */
    translationSets: z.record(z.string(), z.unknown()).optional(),
    /** Set by expandSandbox (sandbox.ts) from `"sandbox": true` or its settings. */
    sandbox: z.custom<SandboxConfig>((v) => typeof v === "object" && v !== null).optional(),
  });
}

/** The validated config, with secrets resolved and defaults filled in. */
export type Config = z.output<ReturnType<typeof configSchema>>;
/** One inbound integration. */
export type IntegrationConfig = Config["integrations"][number];
/** One API source (a client of `POST /endpoint` and `POST /query`). */
export type SourceConfig = Config["sources"][number];
/** One destination. */
export type DestinationConfig = Config["destinations"][number];
/** One subscription (data flow). */
export type SubscriptionConfig = Config["subscriptions"][number];
/** The limits section. */
export type LimitsConfig = Config["limits"];
