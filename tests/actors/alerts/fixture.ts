/**
 * Real peers for alert tests: an HTTP receiver that checks each webhook's HMAC-SHA256 signature,
 * and `smtp-server` on loopback with STARTTLS (the test PKI's certificate). Plus a config with an
 * `alerts` section parsed through the real schema.
 * @module
 */

import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
// @ts-types="@types/smtp-server"
import { SMTPServer } from "smtp-server";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import type { TestPki } from "../../helpers/tls.ts";
import type { Store } from "../../../actors/store/store.ts";

const enc = new TextEncoder();

/** The webhook key tests sign with. */
export const HOOK_SECRET = "test-hook-secret-0123456789";

/** A webhook delivery as the receiver saw it. */
export interface Hook {
  body: Record<string, unknown>;
  signed: boolean;
}

/** A webhook receiver on 127.0.0.1, port chosen by the system. */
export interface HookReceiver {
  url: string;
  hooks: Hook[];
  /** Statuses to answer the next requests with (then 200). */
  failNext: number[];
  /** Resolves once `n` hooks have been received in total. */
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a {@link HookReceiver}. */
export function startHookReceiver(): HookReceiver {
  const hooks: Hook[] = [];
  const failNext: number[] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const text = await req.text();
    const want = createHmac("sha256", HOOK_SECRET).update(text).digest();
    const got = (req.headers.get("x-engine-signature") ?? "").replace(/^sha256=/, "");
    const gotBytes = new Uint8Array(got.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
    const signed = gotBytes.length === want.length && timingSafeEqual(gotBytes, want);
    const status = failNext.shift();
    if (status !== undefined) return new Response("try later", { status });
    hooks.push({ body: JSON.parse(text), signed });
    for (const w of waiters.filter((w) => hooks.length >= w.n)) w.resolve();
    return new Response(signed ? "ok" : "bad signature", { status: signed ? 200 : 401 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    hooks,
    failNext,
    waitFor: (n) =>
      hooks.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ n, resolve })),
    close: () => server.shutdown(),
  };
}

/** A mail as the SMTP server got it. */
export interface Mail {
  from: string;
  to: string[];
  data: string;
  /** Whether the session had switched to TLS (STARTTLS) before the message. */
  secure: boolean;
}

/** `smtp-server` on 127.0.0.1 with STARTTLS. */
export interface SmtpPeer {
  port: number;
  mails: Mail[];
  close(): Promise<void>;
}

/** Starts an {@link SmtpPeer} with the PKI's server certificate. */
export async function startSmtp(pki: TestPki): Promise<SmtpPeer> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    secure: false,
    key: pki.serverKey,
    cert: pki.serverCert,
    authOptional: true,
    disabledCommands: ["AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Uint8Array[] = [];
      stream.on("data", (c: Uint8Array) => chunks.push(c));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          data: new TextDecoder().decode(
            chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
          ),
          secure: session.secure,
        });
        callback();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      // Listening: a client's refused handshake is the test's business, not a crash.
      server.on("error", () => {});
      const addr = server.server.address();
      resolve(typeof addr === "object" && addr ? addr.port : 0);
    });
  });
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A config with `alerts` (and the rest as given), secrets from a fixed environment. */
export function alertConfig(raw: Record<string, unknown>): Config {
  const result = parseConfig(raw, {
    env: (name) =>
      ({ HOOK_SECRET, MAIL_CA: undefined } as Record<string, string | undefined>)[name],
    readFile: (path) => {
      try {
        return Deno.readTextFileSync(path);
      } catch (error) {
        return error as Error;
      }
    },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

/** Stores `n` messages of integration `integrationId` whose RECEIVE logs then fail. */
export async function failLogs(store: Store, n: number, integrationId = "lab"): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await store.accept({
      queue: `sftp:${integrationId}`,
      origin: { kind: "integration", id: integrationId },
      payload: enc.encode(`message ${i}`),
      contentType: "text/plain",
      log: { type: "RECEIVE", integrationId },
    });
    assert.equal(r.status, "stored");
    if (r.status === "stored") await store.updateLog(r.logId, { status: "FAILED", reason: "bad" });
  }
}

/** A config with SFTP integration `lab`, webhook channel `ops` to `hook`, and `rules`. */
export function hookConfig(hook: HookReceiver, rules: unknown[]): Config {
  return alertConfig({
    integrations: [{
      id: "lab",
      environment: "development",
      sftp: {
        host: "127.0.0.1",
        user: "u",
        keys: [{ privateKey: { env: "HOOK_SECRET" } }],
        hostKeyFingerprint: `SHA256:${"A".repeat(43)}`,
        folder: "in",
      },
    }],
    alerts: {
      evaluateEverySeconds: 30,
      channels: [{ id: "ops", webhook: { url: hook.url, secret: { env: "HOOK_SECRET" } } }],
      rules,
    },
  });
}
