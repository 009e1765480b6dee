/**
 * The public ingress (token endpoint and `POST /endpoint`) served over real TLS on 127.0.0.1 with
 * a real KV, shared by the ingress tests: client keys, assertion signing, a store-backed inbox.
 * Not compose(): the ingress layer alone, with an inbox the tests inspect or make fail.
 * @module
 */

import { Hono } from "hono";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import type { ApiAcceptResult, ApiInbox, ApiRequest } from "../../../actors/ports.ts";
import { type Config, parseConfig, Secret } from "../../../actors/config/mod.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/mod.ts";
import { AccessTokens } from "../../../transports/http/access_token.ts";
import {
  type ClientAssertionOptions,
  ClientAssertionVerifier,
  JWT_BEARER,
} from "../../../transports/http/client_assertion.ts";
import { createEndpointApp } from "../../../transports/http/endpoint.ts";
import { createFhirApp } from "../../../transports/http/fhir.ts";
import { RateLimiter } from "../../../transports/http/rate_limit.ts";
import { servePublic } from "../../../transports/http/serve.ts";
import { createTokenApp } from "../../../transports/http/token_endpoint.ts";
import { makePki, type TestPki } from "../../helpers/tls.ts";

/** The client secret of the `lab-secret` source. */
export const LAB_SECRET = "s3cr3t-9f8e7d6c5b4a3f2e1d0c";
/** An external token URL the engine is configured with. */
export const PUBLIC_TOKEN_URL = "https://engine.example.org/v2/auth/token";

/** A client's signing key pair with its public JWK (kid set). */
export interface ClientKey {
  alg: "RS384" | "ES384" | "RS256";
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

/** Makes a key pair for `alg` whose public JWK carries `kid`. */
export async function clientKey(alg: ClientKey["alg"], kid: string): Promise<ClientKey> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, use: "sig" };
  return { alg, kid, privateKey: pair.privateKey, jwk };
}

/** Keys made once per test process (RSA generation is slow). */
export const keys = {
  rs: await clientKey("RS384", "rs-1"),
  es: await clientKey("ES384", "es-1"),
};

let pki: Promise<TestPki> | undefined;
/** One CA and server certificate per test file, made on first use (the files are removed). */
export function testPki(): Promise<TestPki> {
  pki ??= makePki().then(async (p) => {
    await Deno.remove(p.dir, { recursive: true });
    return p;
  });
  return pki;
}

/** Claims of a test assertion; each may be overridden or removed (`undefined`). */
export interface AssertionClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  iat?: number;
  jti?: string;
}

/** Signs an assertion with `key`; `header` overrides the protected header (e.g. no kid). */
export async function signAssertion(
  key: ClientKey,
  claims: AssertionClaims,
  header: Record<string, unknown> = { alg: key.alg, kid: key.kid },
): Promise<string> {
  const payload = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
  return await new SignJWT(payload).setProtectedHeader(header as { alg: string })
    .sign(key.privateKey);
}

/** Standard claims for `clientId`, addressed to `aud`, expiring in 60 s. */
export function claimsFor(clientId: string, aud: string): Required<AssertionClaims> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: clientId, sub: clientId, aud, exp: now + 60, iat: now, jti: crypto.randomUUID() };
}

/** The test sources: RS384 (development), ES384 (production) and a secret (staging). */
export function testSources(extra: unknown[] = []): Config["sources"] {
  const parsed = parseConfig({
    http: { development: true, publicUrl: "https://engine.example.org" },
    sources: [
      {
        id: "lab-rs",
        environment: "development",
        clientId: "lab-rs-client",
        auth: { jwks: { keys: [keys.rs.jwk] } },
      },
      {
        id: "lab-es",
        environment: "production",
        clientId: "lab-es-client",
        auth: { jwks: { keys: [keys.es.jwk] } },
      },
      {
        id: "lab-secret",
        environment: "staging",
        clientId: "lab-secret-client",
        auth: { secret: { env: "LAB_SECRET" } },
      },
      ...extra,
    ],
  }, {
    env: (name) => name === "LAB_SECRET" ? LAB_SECRET : undefined,
    readFile: () => new Error("no files"),
  });
  if (!parsed.ok) throw new Error(`test sources: ${JSON.stringify(parsed.problems)}`);
  return parsed.config.sources;
}

/** An inbox that stores each message with the real Store, or refuses with a set answer. */
export class TestInbox implements ApiInbox {
  readonly requests: ApiRequest[] = [];
  /** When set, every message is answered with it instead of being stored. */
  refusal: ApiAcceptResult | undefined;
  /** When set, accept() rejects with it. */
  crash: Error | undefined;
  constructor(readonly store: Store) {}

  async accept(request: ApiRequest): Promise<ApiAcceptResult> {
    this.requests.push(request);
    if (this.crash) throw this.crash;
    if (this.refusal) return this.refusal;
    const stored = await this.store.accept({
      queue: `api-in:${request.sourceId}`,
      origin: { kind: "source", id: request.sourceId, peer: request.peerIp },
      payload: request.bytes,
      contentType: "application/json",
      log: { type: "RECEIVE", environment: request.environment, sourceId: request.sourceId },
    });
    if (stored.status !== "stored") throw new Error("no dedupe was asked for");
    const meta = (request.json as { Meta?: Record<string, unknown> }).Meta ?? {};
    return { ok: true, body: { Meta: { ...meta, Logs: [{ ID: stored.logId, AttemptID: 1 }] } } };
  }
}

/** A response read whole. */
export interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** The served ingress. */
export interface Ingress {
  /** `https://127.0.0.1:<port>`. */
  base: string;
  /**
   * The token URL as requests reach it (`https://127.0.0.1:<port>/v2/auth/token`), configured as
   * a public token URL next to {@link PUBLIC_TOKEN_URL} unless `tokenUrls` is given.
   */
  tokenUrl: string;
  port: number;
  pki: TestPki;
  kv: Deno.Kv;
  store: Store;
  inbox: TestInbox;
  tokens: AccessTokens;
  /** Log lines written by the apps. */
  lines: string[];
  /** A fetch that trusts the test CA. */
  fetch: typeof fetch;
  /** POSTs a form to the token endpoint. */
  tokenRequest(form: Record<string, string>, headers?: Record<string, string>): Promise<Reply>;
  /** An access token for `lab-secret` (by client secret). */
  secretToken(): Promise<string>;
  /** POSTs to /endpoint with `token` (null: no Authorization header). */
  post(body: BodyInit, token: string | null, headers?: Record<string, string>): Promise<Reply>;
}

/** What a test may change about the ingress. */
export interface IngressOptions {
  sources?: Config["sources"];
  limits?: { maxJsonBytes?: number; rateLimitPerIp?: number; rateLimitWindowSeconds?: number };
  assertion?: Partial<Omit<ClientAssertionOptions, "sources" | "kv">>;
  /** Token requests allowed per IP per minute (no limit when absent). */
  tokenRateLimit?: number;
  /** The public token URLs assertions may name (default: the two of {@link Ingress.tokenUrl}). */
  tokenUrls?: string[];
  /** Header and body timeouts of the server (the config's defaults when absent). */
  timeouts?: { httpHeaderTimeoutSeconds: number; httpBodyTimeoutSeconds: number };
  /** `limits.maxJsonDepth` of the endpoint (its default when absent). */
  maxJsonDepth?: number;
}

/** Serves the ingress over TLS, runs `fn`, then stops everything. */
export async function withIngress(
  options: IngressOptions,
  fn: (ingress: Ingress) => Promise<void>,
): Promise<void> {
  const p = await testPki();
  const store = await Store.open({ path: ":memory:", node: "t" });
  const log = memoryLogger();
  const sources = options.sources ?? testSources();
  const tokens = await AccessTokens.open({ state: store.auth });
  const assertions = new ClientAssertionVerifier({
    ...options.assertion,
    sources,
    state: store.auth,
  });
  const inbox = new TestInbox(store);
  // Filled in once the port is known (read per request).
  const tokenUrls: string[] = options.tokenUrls ?? [PUBLIC_TOKEN_URL];
  const app = new Hono();
  app.route(
    "/",
    createTokenApp({
      sources,
      tokens,
      assertions,
      tokenUrls,
      log,
      ...(options.tokenRateLimit
        ? { rateLimiter: new RateLimiter({ limit: options.tokenRateLimit, windowMs: 60_000 }) }
        : {}),
    }),
  );
  const limits = {
    maxJsonBytes: 1024 * 1024,
    rateLimitPerIp: 10_000,
    rateLimitWindowSeconds: 300,
    ...(options.maxJsonDepth ? { maxJsonDepth: options.maxJsonDepth } : {}),
    ...options.limits,
  };
  app.route("/", createEndpointApp({ tokens, inbox, limits, log }));
  // The FHIR API on the same tokens, limits and inbox, as compose mounts it.
  app.route("/", createFhirApp({ tokens, inbox, limits, log }));
  const server = await servePublic({
    fetch: app.fetch,
    http: {
      port: 0,
      hostname: "127.0.0.1",
      development: false,
      tls: {
        cert: new Secret(p.serverCert, "test"),
        key: new Secret(p.serverKey, "test"),
        requireClientCert: false,
      },
    },
    ...(options.timeouts ? { limits: options.timeouts } : {}),
    log,
  });
  const base = `https://127.0.0.1:${server.port}`;
  if (!options.tokenUrls) tokenUrls.push(`${base}/v2/auth/token`);
  const client = Deno.createHttpClient({ caCerts: [p.caCert] });
  const tlsFetch: typeof fetch = (input, init) => fetch(input, { ...init, client });
  const read = async (r: Response): Promise<Reply> => {
    const text = await r.text();
    let json: unknown = undefined;
    try {
      json = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, json };
  };
  const ingress: Ingress = {
    base,
    tokenUrl: `${base}/v2/auth/token`,
    port: server.port,
    pki: p,
    kv: store.kv,
    store,
    inbox,
    tokens,
    lines: log.lines,
    fetch: tlsFetch,
    tokenRequest: async (form, headers = {}) =>
      await read(
        await tlsFetch(`${base}/v2/auth/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
          body: new URLSearchParams(form).toString(),
        }),
      ),
    secretToken: async () => {
      const r = await ingress.tokenRequest({
        grant_type: "client_credentials",
        client_id: "lab-secret-client",
        client_secret: LAB_SECRET,
      });
      if (r.status !== 200) throw new Error(`token: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json.access_token as string;
    },
    post: async (body, token, headers = {}) =>
      await read(
        await tlsFetch(`${base}/endpoint`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
            ...headers,
          },
          body,
        }),
      ),
  };
  try {
    await fn(ingress);
  } finally {
    client.close();
    await server.shutdown();
    store.close();
  }
}

/** The form of a token request with a JWT assertion. */
export function assertionForm(assertion: string): Record<string, string> {
  return {
    grant_type: "client_credentials",
    client_assertion_type: JWT_BEARER,
    client_assertion: assertion,
  };
}
