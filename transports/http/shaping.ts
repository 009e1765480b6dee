/**
 * Admin routes of data shaping (Hono), mounted under `/admin` behind the admin token:
 *
 * - `GET /translation-sets` → `{sets: [{name, version, entries, onMissing, default?, from}]}`:
 *   every set in use (`from`: `config`, version 0, or `import`).
 * - `GET /translation-sets/:name[?version=N]` → `{name, version, entries: {code: replacement},
 *   versions: [{version, entries, by, importedAt, sha256}]}`, or 404.
 * - `POST /translation-sets/:name[?onMissing=pass|default|fail&default=X&by=WHO]` with a CSV body
 *   (`code,replacement` per line, optional `from,to` header, RFC 4180 quotes; at most 8 MB) →
 *   `201` with the new version; `400 {error, problems}` naming each bad line; `413` over 8 MB.
 * - `POST /modifiers/try` `{messageId | payload, modifiers | hl7Edits, destination?}` → `200
 *   {kind, result, diff: [{path, change}], runs, translationSets}`; `400 {error, problems}` for a
 *   list that does not compile (paths such as `modifiers[0].schema.if.operator`); `404` for an
 *   unknown message; `422 {error}` when a modifier fails on the payload. Nothing is delivered.
 *
 * @module
 */

import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { readLimited } from "./body.ts";
import { isoTimes } from "./present.ts";
import { sendJson as sendRaw } from "./respond.ts";

/** What an import or a try answers, as the routes need it. */
export type Outcome =
  | ({ readonly ok: true } & Record<string, unknown>)
  | {
    readonly ok: false;
    readonly status?: number;
    readonly error: string;
    readonly problems?: readonly unknown[];
  };

/** The engine's side of the routes. */
export interface ShapingAdmin {
  /** Stores a CSV as the set's next version. */
  importSet(request: {
    name: string;
    csv: string;
    onMissing?: string;
    default?: string;
    by?: string;
  }): Promise<Outcome>;
  /** Every set in use. */
  listSets(): readonly unknown[];
  /** One version's table (latest when absent), or undefined. */
  table(
    name: string,
    version?: number,
  ): Promise<{ version: number; entries: Record<string, string> } | undefined>;
  /** The imported versions of a set. */
  versions(name: string): Promise<readonly unknown[]>;
  /** Runs a modifier or edit list on a message or payload; delivers nothing. */
  tryShaping(request: Record<string, unknown>): Promise<Outcome>;
}

/** Largest CSV import. */
export const MAX_CSV_BYTES = 8_000_000;
/** Largest try request (a payload of a few MB and its list). */
export const MAX_TRY_BYTES = 16_000_000;

const decoder = new TextDecoder("utf-8");

/** Every time as ISO 8601 UTC, as every admin answer gives times (imports' too). */
const sendJson = (c: Context, value: unknown, status: number) =>
  sendRaw(
    c,
    isoTimes(JSON.parse(JSON.stringify(value, importedAtIso))),
    status as ContentfulStatusCode,
    {
      "Cache-Control": "no-store",
    },
  );

function importedAtIso(key: string, value: unknown): unknown {
  return key === "importedAt" && typeof value === "number" ? new Date(value).toISOString() : value;
}

/** The routes, relative to where they are mounted (`/admin`). */
export function createShapingAdminApp(admin: ShapingAdmin): Hono {
  const app = new Hono();
  app.get("/translation-sets", (c) => sendJson(c, { sets: admin.listSets() }, 200));

  app.get("/translation-sets/:name", async (c) => {
    const name = c.req.param("name");
    const raw = c.req.query("version");
    const version = raw === undefined ? undefined : Number(raw);
    if (version !== undefined && !(Number.isInteger(version) && version >= 0)) {
      return sendJson(c, { error: "version: a whole number (0 is the config's entries)" }, 400);
    }
    const table = name.length > 64 ? undefined : await admin.table(name, version);
    if (!table) {
      return sendJson(c, {
        error: `no translation set ${name.slice(0, 64)}` +
          (version === undefined ? "" : ` version ${version}`),
      }, 404);
    }
    return sendJson(c, { name, ...table, versions: await admin.versions(name) }, 200);
  });

  app.post("/translation-sets/:name", async (c) => {
    const body = await readLimited(c.req.raw, MAX_CSV_BYTES);
    if (!body.ok) return sendJson(c, { error: `body over the limit of ${body.limit} bytes` }, 413);
    let csv: string;
    try {
      csv = new TextDecoder("utf-8", { fatal: true }).decode(body.bytes);
    } catch {
      return sendJson(c, { error: "the CSV must be UTF-8" }, 400);
    }
    const q = (k: string) => c.req.query(k);
    const r = await admin.importSet({
      name: c.req.param("name"),
      csv,
      ...(q("onMissing") !== undefined ? { onMissing: q("onMissing")! } : {}),
      ...(q("default") !== undefined ? { default: q("default")! } : {}),
      ...(q("by") !== undefined ? { by: q("by")!.slice(0, 128) } : {}),
    });
    if (!r.ok) return refused(c, r);
    const { ok: _ok, ...rest } = r;
    return sendJson(c, rest, 201);
  });

  app.post("/modifiers/try", async (c) => {
    const body = await readLimited(c.req.raw, MAX_TRY_BYTES);
    if (!body.ok) return sendJson(c, { error: `body over the limit of ${body.limit} bytes` }, 413);
    let request: unknown;
    try {
      request = JSON.parse(decoder.decode(body.bytes));
    } catch (error) {
      return sendJson(c, { error: `not JSON: ${(error as Error).message}` }, 400);
    }
    if (typeof request !== "object" || request === null || Array.isArray(request)) {
      return sendJson(c, { error: "the body must be a JSON object" }, 400);
    }
    const r = await admin.tryShaping(request as Record<string, unknown>);
    if (!r.ok) return refused(c, r);
    const { ok: _ok, ...rest } = r;
    return sendJson(c, rest, 200);
  });
  return app;
}

function refused(c: Context, r: Extract<Outcome, { ok: false }>): Response {
  return sendJson(c, {
    error: r.error,
    ...(r.problems ? { problems: r.problems } : {}),
  }, r.status ?? 400);
}
