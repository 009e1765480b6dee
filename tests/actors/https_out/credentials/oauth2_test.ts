/**
 * OAuth 2.0 client credentials against a real HTTPS authorization server that checks the client
 * secret the way RFC 6749 says (HTTP Basic with form-encoded id and secret, or form fields), and
 * an API that accepts only the tokens it issued.
 */

import assert from "node:assert/strict";
import { timingSafeEqual } from "../../../../actors/config/mod.ts";
import { CredentialError } from "../../../../actors/https_out/mod.ts";
import { FetchSender } from "../../../../transports/https/fetch_sender.ts";
import { makePki } from "../../../helpers/tls.ts";
import { startAuthServer, type TokenDecision } from "../fixtures/auth_server.ts";
import { callApi, strategyFor } from "../fixtures/call.ts";
import { httpsDestinationConfig } from "../fixtures/config.ts";
import type { Received } from "../fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

const CLIENT_ID = "engine:client+1";
const SECRET = "s3cr:et+/ü=";

/** Reads the client from HTTP Basic as RFC 6749 §2.3.1 says: base64, then form-decoding. */
function basicClient(req: Received): { id: string; secret: string } | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.get("authorization") ?? "");
  if (!m) return undefined;
  const pair = new TextDecoder().decode(Uint8Array.from(atob(m[1]!), (c) => c.charCodeAt(0)));
  const colon = pair.indexOf(":");
  if (colon < 0) return undefined;
  const decode = (s: string) => decodeURIComponent(s.replaceAll("+", " "));
  return { id: decode(pair.slice(0, colon)), secret: decode(pair.slice(colon + 1)) };
}

function checkClient(
  mode: "basic" | "body",
  req: Received,
  form: URLSearchParams,
): TokenDecision {
  if (form.get("grant_type") !== "client_credentials") {
    return { ok: false, error: "unsupported_grant_type", description: "client_credentials only" };
  }
  const client = mode === "basic"
    ? basicClient(req)
    : { id: form.get("client_id") ?? "", secret: form.get("client_secret") ?? "" };
  if (mode === "basic" && (form.has("client_secret") || form.has("client_id"))) {
    return { ok: false, error: "invalid_request", description: "two client authentications" };
  }
  if (mode === "body" && req.headers.has("authorization")) {
    return { ok: false, error: "invalid_request", description: "two client authentications" };
  }
  if (!client || client.id !== CLIENT_ID || !timingSafeEqual(client.secret, SECRET)) {
    return {
      ok: false,
      status: 401,
      error: "invalid_client",
      description: "Client authentication failed",
    };
  }
  const scope = form.get("scope") ?? undefined;
  return { ok: true, clientId: client.id, ...(scope ? { scope } : {}) };
}

function oauthConfig(tokenUrl: string, secretIn: "basic" | "body", secretVar = "SECRET") {
  return httpsDestinationConfig({
    https: {
      url: "https://127.0.0.1:1/unused",
      verificationToken: { env: "VT" },
      auth: {
        type: "oauth2",
        tokenUrl,
        clientId: CLIENT_ID,
        clientSecret: { env: secretVar },
        secretIn,
        scope: "messages.write",
      },
    },
    env: { VT: "verify-me", SECRET, WRONG: "not-the-secret" },
  }).https;
}

for (const secretIn of ["basic", "body"] as const) {
  Deno.test(`oauth2 with the secret in ${secretIn} gets a token the API accepts and reuses it`, async () => {
    const server = startAuthServer({
      pki,
      checkTokenRequest: (req, form) => checkClient(secretIn, req, form),
    });
    const sender = new FetchSender({ caCerts: [pki.caCert] });
    try {
      const { strategy, log } = strategyFor(oauthConfig(server.tokenUrl, secretIn), sender);
      for (let i = 0; i < 3; i++) {
        const res = await callApi(strategy, sender, server.resourceUrl);
        assert.equal(res.status, 200, res.body);
      }
      assert.equal(server.tokenRequests.length, 1, "the token was not reused");
      assert.equal(server.resourceRequests.length, 3);
      assert.equal(server.tokens[0]?.scope, "messages.write");
      const info = strategy.info();
      assert.equal(info.type, "oauth2");
      assert.ok(info.tokenExpiresAt !== undefined && info.tokenRefreshAt !== undefined);
      assert.equal(info.tokenExpiresAt - (info.tokenFetchedAt ?? 0), 300_000);
      // Neither the token nor the secret reach the log.
      const logged = log.lines.join("\n");
      assert.ok(!logged.includes(server.tokens[0]!.token));
      assert.ok(!logged.includes(SECRET));
      assert.ok(!JSON.stringify(info).includes(server.tokens[0]!.token));
    } finally {
      sender.close();
      await server.close();
    }
  });
}

Deno.test("oauth2 token is used until 30 s before expires_in, then fetched again", async () => {
  const server = startAuthServer({ pki, checkTokenRequest: (r, f) => checkClient("basic", r, f) });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const { strategy, clock } = strategyFor(oauthConfig(server.tokenUrl, "basic"), sender);
    assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
    clock.advance(269_999);
    assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
    assert.equal(server.tokenRequests.length, 1, "re-fetched before the refresh time");
    clock.advance(1);
    assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
    assert.equal(server.tokenRequests.length, 2, "not re-fetched 30 s before expiry");
    const used = server.resourceRequests.map((r) => r.headers.get("authorization"));
    assert.equal(used[0], used[1]);
    assert.notEqual(used[1], used[2]);
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("oauth2 token with a short expires_in is refreshed a tenth of its life early", async () => {
  const server = startAuthServer({
    pki,
    expiresIn: 60,
    checkTokenRequest: (r, f) => checkClient("basic", r, f),
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const { strategy, clock } = strategyFor(oauthConfig(server.tokenUrl, "basic"), sender);
    await callApi(strategy, sender, server.resourceUrl);
    clock.advance(53_999);
    await callApi(strategy, sender, server.resourceUrl);
    assert.equal(server.tokenRequests.length, 1);
    clock.advance(1);
    await callApi(strategy, sender, server.resourceUrl);
    assert.equal(server.tokenRequests.length, 2);
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("oauth2 invalidate() after a 401 makes the next request fetch a new token", async () => {
  const server = startAuthServer({ pki, checkTokenRequest: (r, f) => checkClient("body", r, f) });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const { strategy } = strategyFor(oauthConfig(server.tokenUrl, "body"), sender);
    assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
    server.revokeAll();
    assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 401);
    assert.equal(server.tokenRequests.length, 1, "a cached token is kept until told otherwise");
    strategy.invalidate();
    assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
    assert.equal(server.tokenRequests.length, 2);
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("oauth2 with a wrong secret fails with the endpoint's status and OAuth error", async () => {
  const server = startAuthServer({ pki, checkTokenRequest: (r, f) => checkClient("basic", r, f) });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const { strategy } = strategyFor(oauthConfig(server.tokenUrl, "basic", "WRONG"), sender);
    const error = await callApi(strategy, sender, server.resourceUrl).then(
      () => assert.fail("no error"),
      (e) => e,
    );
    assert.ok(error instanceof CredentialError, String(error));
    assert.equal(error.status, 401);
    assert.equal(
      error.message,
      `token endpoint ${server.tokenUrl} answered HTTP 401: invalid_client: Client authentication failed`,
    );
    assert.ok(!error.message.includes("not-the-secret"));
    assert.equal(server.resourceRequests.length + server.refused.length, 0);
  } finally {
    sender.close();
    await server.close();
  }
});
