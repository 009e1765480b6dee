/**
 * The `destinations` section of the config (see `schema.ts`): one of MLLP, HTTPS (with its
 * authentication: token, OAuth 2, JWT bearer, SMART backend, Google, AWS SigV4; or a FHIR
 * server), SFTP, a hosted SFTP outbox, or another engine's `POST /forward`.
 * @module
 */

import { z } from "zod";
import { checkTemplate } from "../../codecs/files/mod.ts";
import {
  GOOGLE_CLOUD_PLATFORM_SCOPE,
  googleExternalAccountJson,
  googleServiceAccountJson,
} from "./google_credentials.ts";
import type { inboundSchemas } from "./schema_inbound.ts";
import type { SecretSchema } from "./schema_secret.ts";
import type { serverSchemas } from "./schema_server.ts";
import { id, port, seconds, timeZone } from "./schema_values.ts";

/** What {@link destinationSchema} shares with the other sections. */
export interface DestinationParts {
  /** MSH-3 to MSH-6 the engine writes (as for sources). */
  msh: ReturnType<typeof inboundSchemas>["msh"];
  /** An SFTP server's settings (as for polled integrations). */
  sftpEndpoint: ReturnType<typeof inboundSchemas>["sftpEndpoint"];
  /** TLS settings of a client connection. */
  tlsClient: ReturnType<typeof serverSchemas>["tlsClient"];
}

/** The schema of one destination, its secrets through `secret`. */
// The inferred zod types are the contract (see `Config`); spelling them out would duplicate them.
// deno-lint-ignore explicit-module-boundary-types
export function destinationSchema(secret: SecretSchema, parts: DestinationParts) {
  const { msh, sftpEndpoint, tlsClient } = parts;
  /** File name template: {id} message id, {ts} UTC time, {ext} extension, {name} original name. */
  const fileNameTemplate = z.string().default("{ts}-{id}.{ext}").superRefine((template, ctx) => {
    try {
      checkTemplate(template);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  });

  const retryPolicy = z.enum(["retry", "dead-letter"]);

  /** Where HTTPS destinations and token endpoints live (development ones may be plain http). */
  const httpUrl = z.url({
    protocol: /^https?$/,
    error: "expected an https:// URL (http:// only in a development environment)",
  });

  const httpsAuth = z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("token") }),
    z.strictObject({
      type: z.literal("oauth2"),
      tokenUrl: httpUrl,
      clientId: z.string().min(1),
      clientSecret: secret,
      secretIn: z.enum(["basic", "body"]).default("basic"),
      scope: z.string().optional(),
    }),
    z.strictObject({
      type: z.literal("jwt-bearer"),
      tokenUrl: httpUrl,
      issuer: z.string().min(1),
      subject: z.string().min(1),
      audience: z.string().min(1).optional(),
      privateKey: secret,
      keyId: z.string().min(1),
      algorithm: z.enum(["RS384", "ES384", "RS256", "ES256"]).default("RS384"),
      scope: z.string().optional(),
    }),
    z.strictObject({
      type: z.literal("smart-backend"),
      tokenUrl: httpUrl,
      clientId: z.string().min(1),
      privateKey: secret,
      keyId: z.string().min(1),
      algorithm: z.enum(["RS384", "ES384"]).default("RS384"),
      scope: z.string().min(1),
    }),
    z.strictObject({
      /** Workload Identity Federation: Google's `external_account` credential JSON, unchanged. */
      type: z.literal("google-external-account"),
      credentials: googleExternalAccountJson(secret),
      scope: z.string().min(1).default(GOOGLE_CLOUD_PLATFORM_SCOPE),
    }),
    z.strictObject({
      /** A service-account key JSON (`service_account`) signing a JWT bearer assertion. */
      type: z.literal("google-service-account"),
      credentials: googleServiceAccountJson(secret),
      scope: z.string().min(1).default(GOOGLE_CLOUD_PLATFORM_SCOPE),
      /** Domain-wide delegation: the user the token acts for (`sub`). */
      subject: z.string().min(1).optional(),
    }),
    z.strictObject({
      type: z.literal("aws-sigv4"),
      region: z.string().min(1),
      service: z.string().min(1),
      accessKeyId: secret,
      secretAccessKey: secret,
      sessionToken: secret.optional(),
    }),
  ]);

  return z.strictObject({
    id,
    name: z.string().optional(),
    environment: id,
    msh: msh.optional(),
    mllp: z.strictObject({
      host: z.string().min(1),
      port,
      ackTimeoutSeconds: seconds(1, "a destination gets no time to answer").default(30),
      onNack: retryPolicy.default("retry"),
      idleCloseSeconds: seconds(1, "the connection would be opened again for every message")
        .default(7200),
      connectTimeoutSeconds: seconds(0.1, "a connection gets no time to open").default(10),
      tls: tlsClient.optional(),
      /** How `POST /query` asks this destination (on a connection of its own). */
      query: z.strictObject({
        message: z.enum(["QBP^Q22", "QRY^A19"]).default("QBP^Q22"),
        /** Zone of the answer's times that carry no offset. */
        timeZone: timeZone.default("UTC"),
        maxResults: z.number().int().min(1).max(10_000).default(50),
        /** MSH-3 to MSH-6 of the query. */
        sendingApplication: z.string().optional(),
        sendingFacility: z.string().optional(),
        receivingApplication: z.string().optional(),
        receivingFacility: z.string().optional(),
      }).prefault({}),
    }).optional(),
    https: z.strictObject({
      url: httpUrl,
      verificationToken: secret,
      auth: httpsAuth.default({ type: "token" }),
      timeoutSeconds: seconds(0.1, "a receiver gets no time to answer").default(30),
      verifyMethod: z.enum(["POST", "GET"]).default("POST"),
      /**
       * A FHIR R4 server: `url` is its base; message bundles go to `<url>/$process-message`,
       * transaction bundles to `<url>`, as `application/fhir+json`.
       */
      fhir: z.strictObject({
        bundle: z.enum(["message", "transaction"]).default("message"),
        /** Identifier systems by assigning authority (`{"HOSP": "urn:oid:1.2.3"}`). */
        identifierSystems: z.record(z.string(), z.string().min(1)).optional(),
      }).optional(),
    }).optional(),
    sftp: z.strictObject({
      ...sftpEndpoint,
      fileName: fileNameTemplate,
    }).optional(),
    /** Another engine's `POST /forward` (agent mode): original bytes, stored there, then done. */
    forward: z.strictObject({
      /** The central engine's base URL (`/forward` is appended) or its full `/forward` URL. */
      url: httpUrl,
      auth: httpsAuth.refine((a) => a.type !== "token", {
        message: 'forward needs credentials for the central engine, e.g. "oauth2" against its ' +
          "/v2/auth/token",
      }),
      timeoutSeconds: seconds(1, "the central engine gets no time to answer").default(30),
      /**
       * How long the central engine may hold its answer for its application verdict when the
       * site's sender waits for an enhanced-mode application ACK.
       */
      appAckWaitSeconds: seconds(1, "the central engine gets no time for its application ACK")
        .max(300).default(30),
    }).optional(),
    /** Files left in the `outbox/` of a user of the hosted `sftpServer`, for it to download. */
    sftpOutbox: z.strictObject({
      user: z.string().min(1),
      fileName: fileNameTemplate,
    }).optional(),
    /** Config modifiers on the JSON it gets (checked in shaping.ts). */
    modifiers: z.array(z.unknown()).optional(),
    /** HL7 v2 edits on the HL7 it gets (checked in shaping.ts). */
    hl7Edits: z.array(z.unknown()).optional(),
  }).refine(
    (d) =>
      [d.mllp, d.https, d.sftp, d.sftpOutbox, d.forward].filter((x) => x !== undefined).length ===
        1,
    {
      message:
        'a destination needs exactly one of "mllp", "https", "sftp", "sftpOutbox" or "forward"',
    },
  );
}
