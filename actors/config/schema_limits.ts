/**
 * The `limits` section of the config (see `schema.ts`): sizes, rates, connection caps, timeouts
 * and retention, each with its default.
 * @module
 */

import { z } from "zod";
import { days } from "./durations.ts";
import { MiB, seconds } from "./schema_values.ts";

/** The schema of the `limits` section. */
// The inferred zod types are the contract (see `Config`); spelling them out would duplicate them.
// deno-lint-ignore explicit-module-boundary-types
export function limitsSchema() {
  return z.strictObject({
    maxHl7Bytes: z.number().int().positive().default(30 * MiB),
    maxJsonBytes: z.number().int().positive().default(40 * 1000 * 1000),
    maxEmbeddedFileBytes: z.number().int().positive().default(10 * 1000 * 1000),
    rateLimitPerIp: z.number().int().positive().default(10_000),
    rateLimitWindowSeconds: seconds(1, "requests would be forgotten before any limit").default(300),
    dedupeWindowSeconds: seconds(1, "a message sent again would be taken as new")
      .default(24 * 3600),
    logRetentionDays: days({
      min: 1,
      why: "logs and messages would be deleted before anyone can look at them",
    }).default(30),
    queryTimeoutSeconds: seconds(1, "a query gets no time to be answered").default(120),
    /** Fallback when MSH-18 is absent and the bytes are not valid UTF-8. */
    fallbackCharset: z.string().default("windows-1252"),
    /** A started MLLP frame must end within this many seconds, or the connection is closed. */
    frameTimeoutSeconds: seconds(1, "a sender gets no time to finish a frame").default(60),
    /** Most open connections one MLLP listener holds; more are refused and logged. */
    maxConnectionsPerListener: z.number().int().positive().default(1000),
    /** Most open connections one peer address holds on one MLLP listener. */
    maxConnectionsPerPeer: z.number().int().positive().default(100),
    /** Most open HTTP(S) connections the public listener holds; more are refused and logged. */
    maxHttpConnections: z.number().int().positive().default(1000),
    /**
     * Most open HTTP(S) connections from one address (a reverse proxy in front of the engine is
     * one address for all its clients: raise it there).
     */
    maxHttpConnectionsPerPeer: z.number().int().positive().default(100),
    /**
     * Most open connections the hosted SFTP server (`sftpServer`) holds, from all addresses;
     * more are closed at accept (before the SSH handshake) and logged (`sftp.connection-refused`).
     * Default 200: see `MAX_SFTP_CONNECTIONS` (transports/sftp/address_limits.ts).
     */
    maxSftpConnections: z.number({ error: "expected a whole number of connections, at least 1" })
      .int({ error: "expected a whole number of connections, at least 1" })
      .min(1, { error: "at least 1: 0 would refuse every SFTP connection" })
      .default(200),
    /** HTTP: the request line and headers must arrive within this many seconds. */
    httpHeaderTimeoutSeconds: seconds(1, "a client gets no time to send its headers").default(30),
    /** HTTP: a request body must arrive within this many seconds, or `408`. */
    httpBodyTimeoutSeconds: seconds(1, "a client gets no time to send its body").default(60),
    /** Deepest nesting of arrays and objects a JSON body may have. */
    maxJsonDepth: z.number().int().positive().default(64),
    /** Most entries a Bundle posted to the FHIR API may have; more are refused (413). */
    maxFhirBundleEntries: z.number().int().positive().default(1000),
    /** While KV cannot commit, a warning is logged at most once per this many seconds. */
    storageWarningIntervalSeconds: seconds(1, "the warning would flood the log").default(30),
  });
}
