/**
 * A served admin app over real components, shared by the admin tests. Not compose(): the admin
 * layer alone, over one delivery actor whose deliverer the test drives.
 * @module
 */

import assert from "node:assert/strict";
import { Hono } from "hono";
import { Secret } from "../../../actors/config/secret.ts";
import type { Deliverer, DeliveryOutcome } from "../../../actors/delivery/deliverer.ts";
import { DeliveryActor } from "../../../actors/delivery/delivery_actor.ts";
import type { ActorStatus } from "../../../actors/runtime/actor.ts";
import { type Clock, systemClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Supervisor } from "../../../actors/runtime/supervisor.ts";
import { type LogRecord, Store } from "../../../actors/store/mod.ts";
import { createAdminApp } from "../../../transports/http/mod.ts";
import { servePublic } from "../../../transports/http/serve.ts";

/** The admin token the fixture serves with. */
export const TOKEN = "adm-7f3c9e1b5d2a48c6b0e4f9a1c3d5e7f9";
/** The delivery actor every test uses (an id with colons). */
export const DEST = "mllp-out:127.0.0.1:9961";
/** The inbound queue messages are accepted into. */
export const INBOUND = "mllp-in:9960:127.0.0.1";
/** UTF-8 encoder. */
export const enc = new TextEncoder();

/** A deliverer the test tells to succeed or fail, recording what it was asked to send. */
export class TestDeliverer implements Deliverer {
  mode: "ok" | "fail" = "ok";
  readonly sent: string[] = [];
  /** Calls of `idle`: the actor's loop has loaded its state and found its queue empty. */
  idles = 0;
  deliver(job: { record: { id: string } }): Promise<DeliveryOutcome> {
    this.sent.push(job.record.id);
    return Promise.resolve(
      this.mode === "ok" ? { ok: true, detail: "AA" } : { ok: false, reason: "AE: peer refused" },
    );
  }
  idle(): Promise<void> {
    this.idles++;
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A response, read whole. */
export interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  json: any;
  bytes: Uint8Array;
}

/** A served admin app over a real store and supervisor. */
export interface Engine {
  store: Store;
  /** The delivery actors' clock (`systemClock` unless the test gave one). */
  clock: Clock;
  supervisor: Supervisor;
  deliverer: TestDeliverer;
  lines: string[];
  /** Calls the served app; `auth` is the whole Authorization header (default: the token). */
  call(path: string, init?: { method?: string; body?: string; auth?: string | null }): Promise<
    Reply
  >;
}

/**
 * Runs `fn` against the admin app served on a random port, over a real Store on a temp KV file and
 * a Supervisor of DeliveryActors; shuts everything down afterwards. `mount` serves it inside a larger
 * Hono app; `clock` is the delivery actors' clock (a ManualClock to prove where an actor waits).
 */
export async function withEngine(
  fn: (e: Engine) => Promise<void>,
  { mount = false, clock = systemClock }: { mount?: boolean; clock?: Clock } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "http-engine-" });
  const store = await Store.open({ path: `${dir}/engine.kv`, node: "t" });
  const log = memoryLogger();
  const deliverer = new TestDeliverer();
  const supervisor = new Supervisor({
    store,
    log,
    pollMs: 0,
    knownIds: () => [DEST],
    factory: (id) =>
      id.startsWith("mllp-out:")
        ? new DeliveryActor({
          id,
          kind: "mllp-out",
          store,
          deliverer,
          clock,
          log,
          pollMs: 20,
        })
        : undefined,
  });
  const admin = createAdminApp({
    supervisor,
    store,
    token: new Secret(TOKEN, "env:ENGINE_ADMIN_TOKEN"),
    log,
  });
  const app = mount ? new Hono().get("/healthz", (c) => c.text("ok")).route("/", admin) : admin;
  // The engine's own server (plain HTTP, as a development listener).
  const server = await servePublic({
    fetch: app.fetch,
    http: { port: 0, hostname: "127.0.0.1", development: true },
    log,
  });
  const base = `http://127.0.0.1:${server.port}`;
  const call: Engine["call"] = async (path, init = {}) => {
    const headers = new Headers();
    const auth = init.auth === undefined ? `Bearer ${TOKEN}` : init.auth;
    if (auth !== null) headers.set("authorization", auth);
    const res = await fetch(base + path, {
      method: init.method ?? "GET",
      headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const isJson = res.headers.get("content-type")?.startsWith("application/json");
    const json = isJson ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
    return { status: res.status, headers: res.headers, json, bytes };
  };
  try {
    await fn({ store, clock, supervisor, deliverer, lines: log.lines, call });
  } finally {
    await supervisor.stop();
    await server.shutdown();
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Accepts a message and routes it to DEST's queue, as the application step would. */
export async function enqueue(
  store: Store,
  payload: string | Uint8Array,
  log: { dataModel?: string; eventType?: string } = {},
): Promise<{ messageId: string; sendLogId: string }> {
  const r = await store.accept({
    queue: INBOUND,
    origin: { kind: "integration", id: "feed", peer: "127.0.0.1" },
    payload: typeof payload === "string" ? enc.encode(payload) : payload,
    contentType: "application/hl7-v2",
    log: { type: "RECEIVE", integrationId: "feed", environment: "dev" },
  });
  assert.equal(r.status, "stored");
  const [head] = await store.peek(INBOUND);
  assert.ok(head);
  const routed = await store.route(head, [{
    queue: DEST,
    destinationId: "lab",
    messageId: r.messageId,
    originalId: r.messageId,
    log: { integrationId: "feed", environment: "dev", ...log },
  }], { status: "SUCCEEDED" });
  assert.ok(routed);
  const send = (await store.logsOfMessage(r.messageId)).find((l) => l.type === "SEND");
  assert.ok(send);
  return { messageId: r.messageId, sendLogId: send.id };
}

/** Polls `probe` until it returns a truthy value (30 s at most: it returns as soon as it has one). */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The DEST actor's status through the endpoint. */
export const statusOf = async (e: Engine): Promise<ActorStatus> =>
  (await e.call(`/admin/actors/${DEST}`)).json;
/** A log through the endpoint. */
export const logOf = async (e: Engine, id: string): Promise<LogRecord> =>
  (await e.call(`/admin/logs/${id}`)).json;

/** Asserts the one 401 every refusal gets. */
export function assertUnauthorized(r: Reply): void {
  assert.equal(r.status, 401);
  assert.deepEqual(r.json, { error: "unauthorized" });
  assert.equal(r.headers.get("www-authenticate"), "Bearer");
}
