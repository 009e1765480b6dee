/**
 * The development sandbox in the config: `"sandbox": true` (or an object of settings) adds the
 * two default development connections before the config is validated, as if they had been
 * written out, so that they are checked, routed, listed and measured like any other:
 *
 * - **Simulated health system** (connection `simulated-health-system`): integration
 *   `sandbox-ehr` (MLLP, where the simulated EHR sends), destinations `sandbox-ehr-mllp` (its
 *   MLLP receiver, also answering QBP^Q22) and `sandbox-ehr-https` (its JSON receiver on the
 *   engine's own HTTP server, `/sandbox/ehr/endpoint`).
 *   It also sends data-model JSON to the engine's `POST /endpoint` as API source
 *   `sandbox-ehr-api` (client id `sandbox-ehr`; the sandbox issues its own tokens, so its
 *   secret is random unless `ENGINE_SANDBOX_CLIENT_SECRET` is set).
 * - **Engine echo** (connection `engine-echo`): destination `engine-echo` (accepts anything) and
 *   integration `engine-echo-return` (where the echo sends back what it received).
 *
 * Data flows: `sandbox-ehr` and `sandbox-ehr-api` → `engine-echo`; `engine-echo-return` →
 * `sandbox-ehr-mllp` (HL7 v2) and `sandbox-ehr-https` (JSON). So one simulated message goes out
 * and comes back both ways. `schedule` makes the simulated EHR send on its own, every interval.
 * Refused outside a development environment.
 *
 * @module
 */

import { z } from "zod";
import { duration } from "./durations.ts";

/** The sandbox's settings (ports on 127.0.0.1). */
export const sandboxSchema = z.union([
  z.boolean(),
  z.strictObject({
    /** The development environment it lives in (default: the first one). */
    environment: z.string().optional(),
    /** Seed of the synthetic registry and streams. */
    seed: z.string().default("sandbox"),
    registrySize: z.number().int().min(1).max(100_000).default(200),
    /** The engine's MLLP port the simulated EHR sends to. */
    feedPort: z.number().int().min(1).max(65535).default(9962),
    /** The engine's MLLP port the echo sends back to. */
    echoReturnPort: z.number().int().min(1).max(65535).default(9963),
    /** The simulated EHR's MLLP receiver. */
    ehrPort: z.number().int().min(1).max(65535).default(9964),
    /** The echo's MLLP receiver. */
    echoPort: z.number().int().min(1).max(65535).default(9965),
    /** Sending on its own: `count` messages every `everySeconds` (none by default). */
    schedule: z.strictObject({
      /** A data model, `Model.Event`, an HL7 type (`ADT^A01`) or `all`; absent: stories. */
      event: z.string().min(1).optional(),
      count: z.number().int().min(1).max(100_000).default(1),
      everySeconds: duration("seconds", {
        min: 0.1,
        why: "the simulated EHR would send in a busy loop",
      }).max(86_400),
      /** `hl7v2` over MLLP into `sandbox-ehr`, or `json` to `POST /endpoint`. */
      format: z.enum(["hl7v2", "json"]).default("hl7v2"),
      /** Messages per second within a round. */
      rate: z.number().gt(0).max(100_000).optional(),
    }).optional(),
  }),
]);

/** The sandbox's settings once validated (absent: no sandbox). */
export type SandboxConfig = {
  environment: string;
  seed: string;
  registrySize: number;
  feedPort: number;
  echoReturnPort: number;
  ehrPort: number;
  echoPort: number;
  /** The simulated EHR's JSON receiver, on the engine's HTTP server. */
  jsonUrl: string;
  /** The engine's `POST /endpoint`, where the simulated EHR sends JSON. */
  endpointUrl: string;
  schedule?: {
    event?: string;
    count: number;
    everySeconds: number;
    format: "hl7v2" | "json";
    rate?: number;
  };
};

/** Ids of what the sandbox adds. */
export const SANDBOX_IDS = {
  feed: "sandbox-ehr",
  echoReturn: "engine-echo-return",
  ehrMllp: "sandbox-ehr-mllp",
  ehrHttps: "sandbox-ehr-https",
  echo: "engine-echo",
  /** The API source the simulated EHR sends JSON as. */
  api: "sandbox-ehr-api",
} as const;

/** The API client id of {@link SANDBOX_IDS}.api. */
export const SANDBOX_CLIENT_ID = "sandbox-ehr";

/**
 * The environment variable holding the sandbox source's client secret; when unset, a random one
 * (the sandbox issues its own tokens and never uses it).
 */
export const SANDBOX_SECRET_ENV = "ENGINE_SANDBOX_CLIENT_SECRET";

/**
 * The environment variable the JSON receiver's verification token is read from; when unset, the
 * sandbox's own placeholder is used (its receiver checks no token: it is a development peer).
 */
export const SANDBOX_TOKEN_ENV = "ENGINE_SANDBOX_VERIFICATION_TOKEN";

/** The token used when {@link SANDBOX_TOKEN_ENV} is unset. */
export const SANDBOX_TOKEN_PLACEHOLDER = "sandbox-development-only";

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

const LOOPBACK = ["127.0.0.0/8", "::1"];

/**
 * The raw config with the sandbox's connections added, and the sandbox's settings; or the
 * problems (`$.sandbox`). A config without `sandbox` (or `false`) comes back unchanged.
 */
export function expandSandbox(
  value: unknown,
):
  | { ok: true; value: unknown; sandbox?: SandboxConfig }
  | { ok: false; problems: { path: string; message: string }[] } {
  if (!isObject(value) || value.sandbox === undefined) return { ok: true, value };
  if (value.sandbox === false) {
    const { sandbox: _off, ...rest } = value;
    return { ok: true, value: rest };
  }
  // An object is checked against the settings alone, so problems name the setting at fault.
  const parsed = isObject(value.sandbox)
    ? sandboxSchema.options[1].safeParse(value.sandbox)
    : sandboxSchema.safeParse(value.sandbox);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => ({
        path: ["$.sandbox", ...i.path.map(String)].join("."),
        message: i.message,
      })),
    };
  }
  const s = parsed.data === true ? sandboxSchema.options[1].parse({}) : parsed.data;
  if (s === false) return { ok: true, value };
  // The schema's default environments when none are written.
  const envs = Array.isArray(value.environments) ? value.environments.filter(isObject) : [
    { id: "development", type: "development" },
    { id: "staging", type: "staging" },
    { id: "production", type: "production" },
  ];
  const named = s.environment === undefined
    ? envs.find((e) => e.type === "development")
    : envs.find((e) => e.id === s.environment);
  const problem = (message: string) => ({
    ok: false as const,
    problems: [{ path: "$.sandbox", message }],
  });
  if (named === undefined) {
    return problem(
      s.environment === undefined
        ? "the sandbox needs a development environment; this config has none"
        : `no environment ${JSON.stringify(s.environment)}`,
    );
  }
  if (named.type !== "development") {
    return problem(
      `the sandbox exists only in a development environment; ${JSON.stringify(named.id)} is ` +
        `${String(named.type)}`,
    );
  }
  const env = String(named.id);
  const http = isObject(value.http) ? value.http : {};
  const port = typeof http.port === "number" ? http.port : 8080;
  const scheme = http.tls ? "https" : "http";
  const jsonUrl = `${scheme}://127.0.0.1:${port}/sandbox/ehr/endpoint`;
  const endpointUrl = `${scheme}://127.0.0.1:${port}/endpoint`;
  const list = (k: string) => (Array.isArray(value[k]) ? value[k] as unknown[] : []);
  const ids = SANDBOX_IDS;
  const expanded: Raw = {
    ...value,
    integrations: [
      ...list("integrations"),
      {
        id: ids.feed,
        name: "Simulated health system (sends)",
        environment: env,
        timeZone: "UTC",
        mllp: { port: s.feedPort, allowedIps: LOOPBACK },
      },
      {
        id: ids.echoReturn,
        name: "Engine echo (sends back)",
        environment: env,
        timeZone: "UTC",
        mllp: { port: s.echoReturnPort, allowedIps: LOOPBACK },
      },
    ],
    sources: [
      ...list("sources"),
      {
        id: ids.api,
        name: "Simulated health system (API)",
        environment: env,
        clientId: SANDBOX_CLIENT_ID,
        auth: { secret: { env: SANDBOX_SECRET_ENV } },
      },
    ],
    listeners: [
      ...list("listeners"),
      { port: s.feedPort, hostname: "127.0.0.1" },
      { port: s.echoReturnPort, hostname: "127.0.0.1" },
    ],
    destinations: [
      ...list("destinations"),
      {
        id: ids.ehrMllp,
        name: "Simulated health system (MLLP receiver)",
        environment: env,
        mllp: { host: "127.0.0.1", port: s.ehrPort, query: { message: "QBP^Q22" } },
      },
      {
        id: ids.ehrHttps,
        name: "Simulated health system (JSON receiver)",
        environment: env,
        https: { url: jsonUrl, verificationToken: { env: SANDBOX_TOKEN_ENV } },
      },
      {
        id: ids.echo,
        name: "Engine echo",
        environment: env,
        mllp: { host: "127.0.0.1", port: s.echoPort },
      },
    ],
    subscriptions: [
      ...list("subscriptions"),
      { id: "sandbox-to-echo", from: { integration: ids.feed }, to: [ids.echo] },
      { id: "sandbox-api-to-echo", from: { source: ids.api }, to: [ids.echo] },
      {
        id: "echo-to-sandbox-hl7",
        from: { integration: ids.echoReturn },
        to: [ids.ehrMllp],
        format: "hl7v2",
      },
      {
        id: "echo-to-sandbox-json",
        from: { integration: ids.echoReturn },
        to: [ids.ehrHttps],
        format: "json",
      },
    ],
    connections: [
      ...list("connections"),
      {
        id: "simulated-health-system",
        name: "Simulated health system",
        integrations: [ids.feed],
        sources: [ids.api],
        destinations: [ids.ehrMllp, ids.ehrHttps],
      },
      {
        id: "engine-echo",
        name: "Engine echo",
        integrations: [ids.echoReturn],
        destinations: [ids.echo],
      },
    ],
  };
  const sandbox: SandboxConfig = { ...s, environment: env, jsonUrl, endpointUrl };
  expanded.sandbox = sandbox;
  return { ok: true, value: expanded, sandbox };
}
