/**
 * The inbound sections of the config (see `schema.ts`): API `sources` (clients of
 * `POST /endpoint` and `POST /query`), MLLP `listeners`, `integrations` (MLLP, forwarded or
 * polled over SFTP, with their X12 intake settings) and the hosted `sftpServer`; and the MSH
 * settings and SFTP endpoint shape destinations share.
 * @module
 */

import { z } from "zod";
import type { SecretSchema } from "./schema_secret.ts";
import type { serverSchemas } from "./schema_server.ts";
import { exactlyOne, id, ipOrCidr, listenPort, port, seconds, timeZone } from "./schema_values.ts";

/**
 * The schemas of the inbound sections, their secrets through `secret`, TLS listeners through
 * `tlsServer`.
 */
// The inferred zod types are the contract (see `Config`); spelling them out would duplicate them.
// deno-lint-ignore explicit-module-boundary-types
export function inboundSchemas(
  secret: SecretSchema,
  tlsServer: ReturnType<typeof serverSchemas>["tlsServer"],
) {
  /** MSH-3 to MSH-6 of HL7 v2 the engine writes from JSON (per source and per destination). */
  const msh = z.strictObject({
    sendingApplication: z.string().min(1).optional(),
    sendingFacility: z.string().min(1).optional(),
    receivingApplication: z.string().min(1).optional(),
    receivingFacility: z.string().min(1).optional(),
  });

  /** X12 intake settings of an integration or API source (README "X12 and C-CDA"). */
  const x12Intake = {
    /** Answer each interchange with a TA1 (when asked or needed) and a 999 per group. */
    acknowledge: z.boolean().default(false),
    /** A transaction set with content errors is rejected (`IK5*R`) or accepted with errors. */
    contentErrors: z.enum(["reject", "accept-with-errors"]).default("reject"),
  };

  const jwk = z.record(z.string(), z.unknown());
  const source = z.strictObject({
    id,
    name: z.string().optional(),
    environment: id,
    msh: msh.optional(),
    clientId: z.string().min(1),
    auth: exactlyOne(
      z.strictObject({
        jwks: z.strictObject({ keys: z.array(jwk).min(1) }).optional(),
        jwksUrl: z.url().optional(),
        secret: secret.optional(),
      }),
      ["jwks", "jwksUrl", "secret"],
      "inline JWKS, a JWKS URL, or a client secret",
    ),
    x12: z.strictObject(x12Intake).optional(),
  });

  const listener = z.strictObject({
    port: listenPort,
    hostname: z.string().default("0.0.0.0"),
    tls: tlsServer.optional(),
    /** False also ends a frame at FS without the CR, for senders that leave it out. */
    requireFinalCr: z.boolean().default(true),
  });

  const sshKey = z.strictObject({
    privateKey: secret,
    passphrase: secret.optional(),
    /** ISO date-times bounding when the key may be used (rotation). */
    notBefore: z.iso.datetime({ offset: true }).optional(),
    notAfter: z.iso.datetime({ offset: true }).optional(),
  });

  const sftpEndpoint = {
    host: z.string().min(1),
    port: port.default(22),
    user: z.string().min(1),
    keys: z.array(sshKey).min(1),
    /** `SHA256:…` as printed by `ssh-keygen -lf`; a different host key is refused. */
    hostKeyFingerprint: z.string().regex(
      /^SHA256:[A-Za-z0-9+/]{43}=?$/,
      "expected SHA256:<base64>",
    ),
    folder: z.string().min(1),
  };

  const integration = z.strictObject({
    id,
    name: z.string().optional(),
    environment: id,
    /** Facility time zone for HL7 times without an offset. */
    timeZone: timeZone.default("UTC"),
    mllp: z.strictObject({
      port: listenPort,
      allowedIps: z.array(ipOrCidr).min(1),
      /** Tells apart two integrations that share a peer address. */
      sendingFacility: z.string().optional(),
      ackMode: z.enum(["original", "enhanced"]).default("original"),
      idleTimeoutSeconds: seconds(1, "a sender's connection would be closed between two messages")
        .default(600),
    }).optional(),
    /**
     * Messages another engine forwards (`POST /forward`, agent mode) with a token of `source`
     * (and, when set, from that engine's integration `sourceIntegration`) are stored here.
     */
    forward: z.strictObject({
      source: id,
      sourceIntegration: z.string().min(1).optional(),
    }).optional(),
    sftp: z.strictObject({
      ...sftpEndpoint,
      pattern: z.string().default("*"),
      intervalSeconds: seconds(0.1, "the folder would be listed in a busy loop").default(60),
      afterIngest: z.enum(["archive", "delete"]).default("archive"),
      archiveFolder: z.string().default("archive"),
      errorFolder: z.string().default("error"),
    }).optional(),
    x12: z.strictObject({
      ...x12Intake,
      /** Polled SFTP: the remote folder acknowledgments are written to (relative to `folder`). */
      ackFolder: z.string().min(1).optional(),
    }).optional(),
  }).refine((i) => i.mllp === undefined || i.sftp === undefined, {
    message: 'an integration takes "mllp" or "sftp", not both',
  });

  const sftpServer = z.strictObject({
    port: listenPort,
    hostname: z.string().default("0.0.0.0"),
    hostKey: secret,
    root: z.string().default("./data/sftp"),
    maxConnectionsPerIp: z.number().int().positive().default(10),
    maxFailedLoginsPerIp: z.number().int().positive().default(5),
    users: z.array(z.strictObject({
      name: z.string().min(1),
      publicKeys: z.array(z.string().min(1)).min(1),
      integration: id,
    })),
  });

  return { msh, sftpEndpoint, source, listener, integration, sftpServer };
}
