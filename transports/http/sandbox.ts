/**
 * HTTP routes of the development sandbox (Hono):
 *
 * - the simulated health system's JSON receiver, `POST /sandbox/ehr/endpoint` (data-model
 *   messages: `200` when valid, `422` with every problem; `PatientSearch.Query` answered from its
 *   registry) and `POST /sandbox/ehr/query` (the same handler, for HTTPS query destinations);
 * - the engine echo, `POST /sandbox/echo` (`200` for anything);
 * - under `/admin` (mounted after the admin token check): `GET /sandbox` (registry size,
 *   misbehaviour, receipts), `POST /sandbox/send` and `POST /sandbox/misbehave`, their times as
 *   ISO 8601 like every admin answer's.
 *
 * @module
 */

import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "../../actors/ports.ts";
import { readLimited } from "./body.ts";
import { isoTimes } from "./present.ts";
import { sendJson } from "./respond.ts";

/** What a receiver answers a JSON request with. */
export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Where the sandbox sends: an MLLP address, or a URL with its headers. */
export type SendTarget =
  | { readonly mllp: { readonly host: string; readonly port: number } }
  | {
    readonly https: {
      readonly url: string;
      /** Fixed, or made for each request (an access token that expires). */
      readonly headers?: Record<string, string> | (() => Promise<Record<string, string>>);
    };
  };

/** A JSON receiver (the simulated health system's, or the echo's). */
export interface JsonReceiver {
  receiveJson(body: string): Promise<JsonAnswer> | JsonAnswer;
}

/** What {@link createSandboxApp} serves. */
export interface SandboxAppOptions {
  readonly ehr: JsonReceiver;
  readonly echo?: JsonReceiver;
  /** Largest body read (default 40 MB). */
  readonly maxBytes?: number;
}

const decoder = new TextDecoder();

async function answer(
  c: Context,
  receiver: JsonReceiver,
  limit: number,
): Promise<Response> {
  const body = await readLimited(c.req.raw, limit);
  if (!body.ok) {
    return sendJson(c, { error: `body over the limit of ${body.limit} bytes` }, 413);
  }
  const a = await receiver.receiveJson(decoder.decode(body.bytes));
  return sendJson(c, a.body, a.status as ContentfulStatusCode);
}

/** The receivers' routes (no authentication: a development counterpart, like a test peer). */
export function createSandboxApp(options: SandboxAppOptions): Hono {
  const app = new Hono();
  const limit = options.maxBytes ?? 40_000_000;
  app.post("/sandbox/ehr/endpoint", (c) => answer(c, options.ehr, limit));
  app.post("/sandbox/ehr/query", (c) => answer(c, options.ehr, limit));
  const echo = options.echo;
  if (echo) app.post("/sandbox/echo", (c) => answer(c, echo, limit));
  return app;
}

/**
 * The simulated health system as the admin routes use it. `send` and `misbehave` throw a
 * `RangeError` naming the field at fault for a request they refuse.
 */
export interface SandboxControl {
  send(r: {
    to: SendTarget;
    event?: string;
    count: number;
    ratePerSecond?: number;
    seed?: string;
  }): Promise<unknown>;
  misbehave(m: Record<string, number>): unknown;
  readonly misbehaviour: unknown;
  readonly registry: { readonly patients: readonly unknown[] };
  readonly receiver: { receipts(): unknown[]; counts(): Record<string, number> };
}

/** What {@link createSandboxAdminApp} needs. */
export interface SandboxAdminOptions {
  readonly ehr: SandboxControl;
  /** Where `format: "hl7v2"` (default) sends: the engine's sandbox integration. */
  readonly mllpTarget?: Extract<SendTarget, { mllp: unknown }>["mllp"];
  /** Where `format: "json"` sends: the engine's `POST /endpoint` or any URL. */
  readonly httpsTarget?: Extract<SendTarget, { https: unknown }>["https"];
  readonly log: Logger;
}

/**
 * An admin answer: every time (a receipt's `at`…) as ISO 8601 UTC, as every admin answer gives
 * times ({@link isoTimes}).
 */
const adminJson = (
  c: Context,
  value: unknown,
  status: ContentfulStatusCode = 200,
  headers: Record<string, string> = {},
): Response => sendJson(c, isoTimes(value), status, headers);

/**
 * Admin routes, relative to where they are mounted (`/admin`):
 *
 * - `GET /sandbox` → `{patients, misbehaviour, counts, receipts}`;
 * - `POST /sandbox/send` `{dataModel?, event?, count, rate?, format?: "hl7v2"|"json", seed?,
 *   wait?: true}` → `200` with the report (`202` at once with `wait: false`), `400` naming the
 *   field at fault;
 * - `POST /sandbox/misbehave` `{nackShare?, slowShare?, slowAckMs?, dropShare?, duplicateShare?}`
 *   → `200` with the settings now in force, `400` naming the field at fault.
 */
export function createSandboxAdminApp(options: SandboxAdminOptions): Hono {
  const app = new Hono();
  const { ehr } = options;
  app.get("/sandbox", (c) =>
    adminJson(
      c,
      {
        patients: ehr.registry.patients.length,
        misbehaviour: ehr.misbehaviour,
        counts: ehr.receiver.counts(),
        receipts: ehr.receiver.receipts().slice(-50),
      },
      200,
      { "Cache-Control": "no-store" },
    ));
  app.post("/sandbox/send", async (c) => {
    const body = await readJson(c.req.raw);
    if (typeof body === "string") return adminJson(c, { error: body }, 400);
    const model = body.dataModel, event = body.event;
    if (model !== undefined && typeof model !== "string") {
      return adminJson(c, { error: "dataModel: must be a string" }, 400);
    }
    if (event !== undefined && typeof event !== "string") {
      return adminJson(c, { error: "event: must be a string" }, 400);
    }
    // `dataModel` and `event` together name `Model.Event`; either alone is a label of its own.
    const label = model && event && !event.includes("^") ? `${model}.${event}` : (event ?? model);
    const request = {
      count: body.count ?? 1,
      ...(label !== undefined ? { event: label } : {}),
      ...(body.rate !== undefined ? { ratePerSecond: body.rate } : {}),
      ...(typeof body.seed === "string" ? { seed: body.seed } : {}),
    } as { count: number; event?: string; ratePerSecond?: number; seed?: string };
    const format = body.format ?? "hl7v2";
    let to: SendTarget;
    if (format === "hl7v2" && options.mllpTarget) to = { mllp: options.mllpTarget };
    else if (format === "json" && options.httpsTarget) to = { https: options.httpsTarget };
    else {
      return adminJson(c, {
        error: format !== "hl7v2" && format !== "json"
          ? `format: must be "hl7v2" or "json"`
          : `format: no ${format} target is configured for the sandbox`,
      }, 400);
    }
    let run: Promise<unknown>;
    try {
      // The request is checked before anything is sent: a RangeError is the caller's mistake.
      run = ehr.send({ ...request, to });
      await Promise.race([run, Promise.resolve()]);
    } catch (error) {
      return refusal(c, error);
    }
    if (body.wait === false) {
      run.catch((error) => options.log.error("sandbox.send-failed", { reason: error }));
      return adminJson(c, { started: true, ...request, format }, 202);
    }
    try {
      return adminJson(c, await run, 200);
    } catch (error) {
      return refusal(c, error);
    }
  });
  app.post("/sandbox/misbehave", async (c) => {
    const body = await readJson(c.req.raw);
    if (typeof body === "string") return adminJson(c, { error: body }, 400);
    try {
      return adminJson(c, { misbehaviour: ehr.misbehave(body as Record<string, number>) }, 200);
    } catch (error) {
      return refusal(c, error);
    }
  });
  return app;
}

/** A RangeError is a 400 naming the field; anything else is rethrown (Hono answers 500). */
function refusal(c: Context, error: unknown): Response {
  if (error instanceof RangeError) return adminJson(c, { error: error.message }, 400);
  throw error;
}

/** A JSON object body (at most 64 KiB), or why not. */
async function readJson(request: Request): Promise<Record<string, unknown> | string> {
  const body = await readLimited(request, 64 * 1024);
  if (!body.ok) return `body over the limit of ${body.limit} bytes`;
  try {
    const v = JSON.parse(decoder.decode(body.bytes) || "{}");
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : "not a JSON object";
  } catch (error) {
    return `not JSON: ${error instanceof Error ? error.message : String(error)}`;
  }
}
