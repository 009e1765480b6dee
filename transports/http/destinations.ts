/**
 * The destinations part of the admin endpoint (Hono): the list of destinations with their
 * verification state, and the verification of an HTTPS destination. Mounted under `/admin`, after
 * its bearer-token check; on its own it authenticates nobody.
 * @module
 */

import { type Context, Hono } from "hono";
import { isoTimes } from "./present.ts";
import { sendJson } from "./respond.ts";
import type { DestinationView, VerifyResult } from "../../actors/ports.ts";
import { errorMessage } from "../../actors/mod.ts";

/** What the routes need (the engine's `HttpsDestinations` provides both). */
export interface DestinationsAppOptions {
  /** Every destination with its verification state. */
  list(): Promise<DestinationView[]>;
  /** Verifies an HTTPS destination; undefined when `id` names none. */
  verify(id: string): Promise<VerifyResult> | undefined;
  /** Records a verification in the audit log (who is the caller's to tell from `c`). */
  audit?(
    c: Context,
    facts: { action: string; target: string; reason: string; ok: boolean; message: string },
  ): Promise<void>;
}

/** Ids longer than config ids can be (128) name nothing: refused with 400 before any lookup. */
const MAX_ID = 128;

/**
 * Routes, relative to where the app is mounted:
 *
 * - `GET /destinations` → `{destinations: DestinationView[]}` (id, environment, type, url, auth,
 *   verificationRequired, verified, verifiedAt, lastVerification).
 * - `POST /destinations/:id/verify` → 200 with the {@link VerifyResult} (`verified` true or false,
 *   `status`, `reason`), or 404 `{"error": "no HTTPS destination <id>"}` (400 for an id over
 *   128 characters); written to the audit log through `audit` when given.
 */
export function createDestinationsApp(options: DestinationsAppOptions): Hono {
  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });
  app.onError((error, c) =>
    sendJson(c, {
      error: `destinations: ${errorMessage(error)}`,
    }, 500)
  );

  app.get(
    "/destinations",
    async (c) => sendJson(c, isoTimes({ destinations: await options.list() })),
  );

  app.post("/destinations/:id/verify", async (c) => {
    const id = c.req.param("id");
    if (id.length > MAX_ID) {
      return sendJson(c, { error: `id: at most ${MAX_ID} characters; got ${id.length}` }, 400);
    }
    const verifying = options.verify(id);
    const result = verifying ? await verifying : undefined;
    const message = !result
      ? `no HTTPS destination ${JSON.stringify(id)}`
      : result.verified
      ? "verified"
      : `not verified: ${result.reason ?? ""}`;
    // An operator action, as the console's verify button is: audited whatever its outcome.
    await options.audit?.(c, {
      action: "verify",
      target: `destination:${id}`,
      reason: "",
      ok: result?.verified ?? false,
      message,
    });
    if (!result) return sendJson(c, { error: message }, 404);
    return sendJson(c, isoTimes(result));
  });

  return app;
}
