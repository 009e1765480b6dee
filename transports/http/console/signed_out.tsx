/** @jsxImportSource hono/jsx */
/**
 * What a browser is told when its session ended because its user went: deleted, or deleted and
 * created again (another user under the same name), on this node or another one sharing the KV.
 * @module
 */

import type { Context } from "hono";
import type { Ended } from "./sessions.ts";
import { Page } from "./layout.tsx";

/** The sentence saying why a session ended (no secret: the user's name and the reason). */
export function endedMessage(ended: Ended): string {
  return ended.reason === "deleted"
    ? `Your session ended: the user ${ended.user} was deleted.`
    : `Your session ended: the user ${ended.user} was deleted and created again; sign in as the new user.`;
}

/**
 * Answers a request whose session ended: a page saying why with the way to the sign-in page
 * (401), or for htmx the same sentence and `HX-Redirect` to the sign-in page.
 */
export function signedOut(c: Context, ended: Ended): Response {
  const message = endedMessage(ended);
  if (c.req.header("HX-Request")) {
    c.header("HX-Redirect", "/console/login");
    return c.text(`signed out: ${message}`, 401);
  }
  return c.html(
    <Page title="Signed out">
      <section class="login">
        <h1>Signed out</h1>
        <p class="error" role="alert" data-session-ended={ended.reason}>{message}</p>
        <p>
          <a href="/console/login">Sign in again</a>
        </p>
      </section>
    </Page>,
    401,
  ) as Response;
}
