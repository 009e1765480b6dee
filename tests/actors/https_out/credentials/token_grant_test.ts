/**
 * Reading token endpoint answers, against a real HTTPS server answering each way a token endpoint
 * can go wrong: every refusal names the endpoint, the status, and the OAuth error or a snippet.
 */

import assert from "node:assert/strict";
import { CredentialError, requestToken, TokenCache } from "../../../../actors/https_out/mod.ts";
import { ManualClock } from "../../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../../actors/runtime/log.ts";
import { FetchSender } from "../../../../transports/https/fetch_sender.ts";
import { waitFor } from "../../../helpers/net.ts";
import { makePki } from "../../../helpers/tls.ts";
import { gate, startServer } from "../fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

const ANSWERS: Record<string, () => Response> = {
  "/ok": () => Response.json({ access_token: "tok-1", token_type: "bearer", expires_in: "120" }),
  "/no-expiry": () => Response.json({ access_token: "tok-2", token_type: "Bearer" }),
  "/oauth-error": () =>
    Response.json({ error: "invalid_scope", error_description: "scope x.read is not allowed" }, {
      status: 400,
    }),
  "/html-500": () =>
    new Response("<html><body>\n  Internal   error\n</body></html>", { status: 500 }),
  "/not-json": () => new Response("access_token=abc", { status: 200 }),
  "/no-token": () => Response.json({ token_type: "Bearer", expires_in: 60 }),
  "/mac": () => Response.json({ access_token: "t", token_type: "mac", expires_in: 60 }),
  "/bad-expiry": () =>
    Response.json({ access_token: "t", token_type: "Bearer", expires_in: "soon" }),
};

Deno.test("token endpoint answers are read, and refusals say exactly what came back", async () => {
  const server = startServer(
    (req) => (ANSWERS[req.path] ?? (() => new Response("?", { status: 404 })))(),
    pki,
  );
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  const ask = (path: string) =>
    requestToken({
      sender,
      tokenUrl: `${server.origin}${path}`,
      form: new URLSearchParams({ grant_type: "client_credentials" }),
      timeoutMs: 5000,
    });
  const refusal = async (path: string) => {
    const e = await ask(path).then(() => assert.fail(`${path} was accepted`), (e) => e);
    assert.ok(e instanceof CredentialError, String(e));
    return e.message.replace(`token endpoint ${server.origin}${path}`, "<endpoint>");
  };
  try {
    assert.deepEqual(await ask("/ok"), { accessToken: "tok-1", expiresInS: 120 });
    assert.deepEqual(await ask("/no-expiry"), { accessToken: "tok-2" });
    assert.equal(
      await refusal("/oauth-error"),
      "<endpoint> answered HTTP 400: invalid_scope: scope x.read is not allowed",
    );
    assert.equal(
      await refusal("/html-500"),
      "<endpoint> answered HTTP 500: <html><body> Internal error </body></html>",
    );
    assert.equal(await refusal("/not-json"), "<endpoint> answered HTTP 200 without a JSON object");
    assert.equal(await refusal("/no-token"), "<endpoint>: the answer has no access_token");
    assert.equal(
      await refusal("/mac"),
      '<endpoint>: token_type is "mac"; only "Bearer" tokens can be used',
    );
    assert.equal(
      await refusal("/bad-expiry"),
      '<endpoint>: expires_in is "soon", not a number of seconds',
    );
    const form = server.requests[0]!;
    assert.equal(form.headers.get("content-type"), "application/x-www-form-urlencoded");
    assert.equal(form.headers.get("accept"), "application/json");
    assert.equal(form.text, "grant_type=client_credentials");
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("token cache shares one token request between concurrent callers and assumes 300 s without expires_in", async () => {
  const held = gate();
  let n = 0;
  const server = startServer(async () => {
    n++;
    await held.wait;
    return Response.json({ access_token: `tok-${n}`, token_type: "Bearer" });
  }, pki);
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  const clock = new ManualClock();
  try {
    const cache = new TokenCache({
      clock,
      log: memoryLogger(),
      destinationId: "ehr",
      fetch: (signal) =>
        requestToken({
          sender,
          tokenUrl: `${server.origin}/token`,
          form: new URLSearchParams({ grant_type: "client_credentials" }),
          timeoutMs: 5000,
          ...(signal ? { signal } : {}),
        }),
    });
    const both = Promise.all([cache.get(), cache.get()]);
    await waitFor("the token request", () => server.requests.length === 1);
    held.open();
    assert.deepEqual(await both, ["tok-1", "tok-1"]);
    assert.equal(server.requests.length, 1);
    assert.equal(cache.expiresAt, clock.now() + 300_000);
    assert.equal(cache.useUntil, clock.now() + 270_000);
    clock.advance(270_000);
    assert.equal(await cache.get(), "tok-2");
  } finally {
    held.open();
    sender.close();
    await server.close();
  }
});
