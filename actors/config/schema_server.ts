/**
 * The sections of the config about the engine itself (see `schema.ts`): `node`, `cluster`
 * (scale-out), `kv`, `http` (with TLS), `admin` (token, console users, sessions) and
 * `environments`, and the TLS settings listeners and destinations share.
 * @module
 */

import { z } from "zod";
import { duration } from "./durations.ts";
import { reservedUserName } from "./reserved_names.ts";
import type { SecretSchema } from "./schema_secret.ts";
import { id, ipOrCidr, seconds } from "./schema_values.ts";

/** The shortest admin token accepted: a short one can be guessed by trying. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** Entries of `http.trustedProxies` at most. */
export const MAX_TRUSTED_PROXIES = 256;

/** An entry of `http.trustedProxies`: an error names the entry that is not an address or range. */
const trustedProxy = z.string().superRefine((value, ctx) => {
  if (ipOrCidr.safeParse(value).success) return;
  ctx.addIssue({
    code: "custom",
    message: `${JSON.stringify(value.slice(0, 100))} is not an IP address or CIDR range ` +
      "(e.g. 10.0.0.5, 10.0.0.0/8 or fd00::/8)",
  });
});

/**
 * The schemas of the engine's own sections and of TLS settings, their secrets through `secret`.
 */
// The inferred zod types are the contract (see `Config`); spelling them out would duplicate them.
// deno-lint-ignore explicit-module-boundary-types
export function serverSchemas(secret: SecretSchema) {
  const tlsServer = z.strictObject({
    cert: secret,
    key: secret,
    /** CA bundle that client certificates must chain to (mutual TLS). */
    ca: secret.optional(),
    requireClientCert: z.boolean().default(false),
  });

  const tlsClient = z.strictObject({
    /** Extra CA bundle to trust for the server's certificate. */
    ca: secret.optional(),
    cert: secret.optional(),
    key: secret.optional(),
  });

  const node = z.strictObject({ id: id.default("node-1") });

  /** Scale-out: several processes on one KV (README "Scale-out"). */
  const cluster = z.strictObject({
    /** Lease lifetime: a dead node's actors resume elsewhere about this long after. */
    leaseSeconds: seconds(1, "a shorter lease lapses before its node renews it: actors hop nodes")
      .max(600).default(10),
    /** This node's share of actors in rendezvous hashing (capacity), default 1. */
    weight: z.number().positive().max(1000).default(1),
    /** Where operators reach this node (shown by GET /admin/nodes). */
    address: z.string().min(1).optional(),
  });

  const kv = z.strictObject({
    /**
     * Exactly `:memory:`, an `http://` or `https://` KV Connect URL (the scheme in any letter
     * case), or else a file path (see `kvPathKind` in actors/store/kv.ts).
     */
    path: z.string().min(1).default("./data/engine.kv"),
    /** Access token for a KV Connect URL (sent as DENO_KV_ACCESS_TOKEN). */
    accessToken: secret.optional(),
  });

  const http = z.strictObject({
    port: z.number().int().min(0).max(65535).default(8080),
    hostname: z.string().default("127.0.0.1"),
    tls: tlsServer.optional(),
    /** Plain HTTP is refused unless the listener is marked as for development. */
    development: z.boolean().default(false),
    /**
     * The base URL clients reach the engine at (e.g. https://engine.example.org): client
     * assertions may name `<publicUrl>/v2/auth/token` as their audience.
     */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * When set, `GET /metrics` needs `Authorization: Bearer <this token>` (a Prometheus
     * `bearer_token`); when absent it is open, as `/healthz`.
     */
    metricsToken: secret.refine((t) => t.reveal().length >= MIN_ADMIN_TOKEN_LENGTH, {
      error: `too short: a metrics token needs at least ${MIN_ADMIN_TOKEN_LENGTH} characters ` +
        "(e.g. openssl rand -hex 32)",
    }).optional(),
    /**
     * Reverse proxies (IP addresses or CIDR ranges, IPv4 or IPv6) whose `X-Forwarded-For` names
     * the client: a request from one of them is throttled, allowed and logged by the client that
     * header names (transports/http/forwarded_for.ts). Absent, the header is ignored.
     */
    trustedProxies: z.array(trustedProxy).max(MAX_TRUSTED_PROXIES).optional(),
  }).refine((h) => h.tls !== undefined || h.development, {
    message: 'plain HTTP needs "development": true; otherwise configure http.tls',
  });

  /** A user of the console and the admin API (more are kept in KV, managed by an admin). */
  const consoleUser = z.strictObject({
    name: z.string().min(1).max(100).regex(/^[\w.@-]+$/, "letters, digits, _ . @ - only")
      .refine((name) => reservedUserName(name) === undefined, {
        message: reservedUserName("admin"),
      }),
    role: z.enum(["viewer", "operator", "admin"]),
    /** An argon2id PHC string (`$argon2id$v=19$…`), never the password itself. */
    passwordHash: z.string().regex(/^\$argon2id?\$/, "expected an argon2 PHC string").optional(),
    /** A bearer token for `/admin` with this user's role: as long as the admin token at least. */
    token: secret.optional(),
  }).superRefine((u, ctx) => {
    // Checked here rather than on the field, so that the error names the user.
    if (typeof u.token?.reveal === "function" && u.token.reveal().length < MIN_ADMIN_TOKEN_LENGTH) {
      ctx.addIssue({
        code: "custom",
        path: ["token"],
        message: `too short: user "${u.name}"'s token needs at least ${MIN_ADMIN_TOKEN_LENGTH} ` +
          "characters, as the admin token does (e.g. openssl rand -hex 32)",
      });
    }
  });

  const admin = z.strictObject({
    /** Bearer token for /admin; when absent one is generated into the KV folder. */
    token: secret.refine((t) => t.reveal().length >= MIN_ADMIN_TOKEN_LENGTH, {
      error: `too short: an admin token needs at least ${MIN_ADMIN_TOKEN_LENGTH} characters ` +
        "(e.g. openssl rand -hex 32)",
    }).optional(),
    users: z.array(consoleUser).default([]),
    /** A console session ends after this long without a request… */
    sessionIdleMinutes: duration("minutes", {
      min: 1,
      why: "a session would end between two clicks",
    }).default(30),
    /** …and this long after sign-in, whatever. */
    sessionMaxHours: duration("hours", {
      min: 0.1,
      why: "a session would end before the operator gets anything done",
    }).default(12),
    /**
     * Failed console sign-ins allowed per address and user name in 5 minutes (successes do not
     * count); sign-in with a token has its own budget per address, 5 times this.
     */
    loginAttemptsPerIp: z.number().int().positive().default(10),
  });

  const environment = z.strictObject({
    id,
    type: z.enum(["development", "staging", "production"]),
  });

  return { tlsServer, tlsClient, node, cluster, kv, http, admin, environment };
}
