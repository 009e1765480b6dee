/**
 * The shape of the engine's one JSON config file, as zod schemas. Secrets are references
 * (`{"env": "NAME"}` or `{"file": "path"}`) resolved while parsing, so a missing variable is a
 * config error at its JSON path like any other.
 * @module
 */

import type { SandboxConfig } from "./sandbox.ts";
import { z } from "zod";
import { reservedUserName } from "./reserved_names.ts";
import { Secret } from "./secret.ts";
import { checkTemplate } from "../../codecs/files/mod.ts";
import { alertsSchema } from "./alerts.ts";
import { days, duration } from "./durations.ts";
import {
  GOOGLE_CLOUD_PLATFORM_SCOPE,
  googleExternalAccountJson,
  googleServiceAccountJson,
} from "./google_credentials.ts";

/** Reads a variable or a file while the config is parsed; injected so parsing stays pure. */
export interface ConfigSources {
  /** The value of an environment variable, or `undefined` when unset. */
  env(name: string): string | undefined;
  /**
   * A file's text, or an `Error` saying why it cannot be read. A secret's one trailing line end
   * (`\n` or `\r\n`) is removed by the schema, not here.
   */
  readFile(path: string): string | Error;
}

const MiB = 1024 * 1024;

const port = z.number().int().min(1).max(65535);
/** A port this engine listens on: 0 lets the system choose (tests); compose reports the bound one. */
const listenPort = z.number().int().min(0).max(65535);
/**
 * A timer's duration in seconds: at least `min` (why less harms: `why`), at most 2,147,483 (the
 * runtime's longest timer); durations.ts.
 */
const seconds = (min: number, why: string) => duration("seconds", { min, why });
const id = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
  "expected an id of letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit)",
);
const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, "expected an IANA time zone such as America/Chicago");

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
/** An IPv4 or IPv6 address, optionally with a CIDR prefix length. */
const ipOrCidr = z.string().refine((value) => {
  const [addr = "", prefix, extra] = value.split("/");
  if (extra !== undefined) return false;
  const v4 = IPV4.test(addr);
  const v6 = !v4 && addr.includes(":") && IPV6.test(addr);
  if (!v4 && !v6) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (v4 ? 32 : 128);
}, "expected an IP address or CIDR range such as 10.0.0.0/8");

/**
 * An object with exactly one of `keys` set. Unlike a union, it keeps the nested issues of the
 * chosen branch (a union would report only that no branch matched).
 */
function exactlyOne<T extends z.ZodObject>(schema: T, keys: readonly string[], hint: string) {
  return schema.refine(
    (value) => keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined).length === 1,
    { message: `expected exactly one of ${keys.map((k) => `"${k}"`).join(", ")}: ${hint}` },
  );
}

function secretSchema(sources: ConfigSources) {
  return exactlyOne(
    z.strictObject({ env: z.string().min(1).optional(), file: z.string().min(1).optional() }),
    ["env", "file"],
    'a secret is referenced as {"env": "NAME"} or {"file": "path"}',
  ).transform((ref, ctx) => {
    if (ref.env !== undefined) {
      const value = sources.env(ref.env);
      if (value === undefined || value === "") {
        ctx.issues.push({
          code: "custom",
          input: ref,
          message: `environment variable ${ref.env} is not set`,
        });
        return z.NEVER;
      }
      return new Secret(value, `env:${ref.env}`);
    }
    const file = ref.file ?? "";
    const text = sources.readFile(file);
    if (text instanceof Error) {
      ctx.issues.push({
        code: "custom",
        input: ref,
        message: `cannot read ${file}: ${text.message}`,
      });
      return z.NEVER;
    }
    // One line end is what `echo token > file`, editors and Kubernetes/Docker secrets add: it is
    // not part of the secret. Only one, and nothing else: spaces inside or before it are kept.
    const value = text.replace(/\r?\n$/, "");
    if (value === "") {
      ctx.issues.push({ code: "custom", input: ref, message: `file ${file} is empty` });
      return z.NEVER;
    }
    return new Secret(value, `file:${file}`);
  });
}

/** The shortest admin token accepted: a short one can be guessed by trying. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** Builds the schema; secret references are resolved through `sources`. */
// The schema's inferred type is the contract (see `Config`); spelling it out would duplicate it.
// deno-lint-ignore explicit-module-boundary-types
export function configSchema(sources: ConfigSources) {
  const secret = secretSchema(sources);

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
    /** `:memory:`, a file path, or an `https://` KV Connect URL. */
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
    /** A bearer token for `/admin` with this user's role. */
    token: secret.optional(),
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
    /** Sign-in attempts allowed per address in 5 minutes. */
    loginAttemptsPerIp: z.number().int().positive().default(10),
  });

  const limits = z.strictObject({
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

  const environment = z.strictObject({
    id,
    type: z.enum(["development", "staging", "production"]),
  });

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

  /** File name template: {id} message id, {ts} UTC time, {ext} extension, {name} original name. */
  const fileNameTemplate = z.string().default("{ts}-{id}.{ext}").superRefine((template, ctx) => {
    try {
      checkTemplate(template);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
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

  const destination = z.strictObject({
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

  const rule = z.strictObject({
    /** A dotted JSON path into the data-model message, e.g. `Meta.EventType`. */
    path: z.string().min(1),
    op: z.enum(["in", "notIn"]),
    values: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1),
  });

  const subscription = z.strictObject({
    id: id.optional(),
    from: exactlyOne(
      z.strictObject({ integration: id.optional(), source: id.optional() }),
      ["integration", "source"],
      "the integration or API source the data comes from",
    ),
    to: z.array(id).min(1),
    dataModels: z.array(z.string()).optional(),
    eventTypes: z.array(z.string()).optional(),
    format: z.enum(["hl7v2", "json", "fhir"]).optional(),
    /** X12 transaction sets this flow takes: every list given must match (README "X12"). */
    x12: z.strictObject({
      /** ST01 (`837`), the guide's short name (`837P`) or GS08 / ST03 (`005010X222A1`). */
      transactionSets: z.array(z.string().min(1)).min(1).optional(),
      /** GS08 versions (`005010X222A1`). */
      versions: z.array(z.string().min(1)).min(1).optional(),
      /** ISA06 or GS02 of the sender. */
      senderIds: z.array(z.string().min(1)).min(1).optional(),
      /** ISA08 or GS03 of the receiver. */
      receiverIds: z.array(z.string().min(1)).min(1).optional(),
    }).optional(),
    /** C-CDA document types (`CCD`, `Discharge Summary`...), in a file or in an MDM's OBX-5. */
    documentTypes: z.array(z.string().min(1)).min(1).optional(),
    filter: exactlyOne(
      z.strictObject({
        sendIf: z.array(rule).min(1).optional(),
        blockAll: z.literal(true).optional(),
      }),
      ["sendIf", "blockAll"],
      '"send if" rules that must all hold, or block all',
    ).optional(),
    /** Config modifiers on the JSON of this flow (checked in shaping.ts). */
    modifiers: z.array(z.unknown()).optional(),
    /** HL7 v2 edits on the HL7 of this flow (checked in shaping.ts). */
    hl7Edits: z.array(z.unknown()).optional(),
  });

  const connection = z.strictObject({
    id,
    name: z.string(),
    integrations: z.array(id).default([]),
    sources: z.array(id).default([]),
    destinations: z.array(id).default([]),
  });

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
