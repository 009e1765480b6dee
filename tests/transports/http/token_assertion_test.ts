import assert from "node:assert/strict";
import { ClientAssertionVerifier } from "../../../transports/http/client_assertion.ts";
import { tokenUrlFor } from "../../../transports/http/token_endpoint.ts";
import { AuthState } from "../../../actors/store/auth_state.ts";
import {
  assertionForm,
  claimsFor,
  clientKey,
  keys,
  PUBLIC_TOKEN_URL,
  signAssertion,
  testSources,
  withIngress,
} from "./ingress_fixture.ts";
import { tempDir } from "../../helpers/temp.ts";

const now = () => Math.floor(Date.now() / 1000);

Deno.test("token endpoint issues a 5-minute bearer token for an RS384 assertion addressed to the request URL", async () => {
  await withIngress({}, async (e) => {
    const assertion = await signAssertion(keys.rs, claimsFor("lab-rs-client", e.tokenUrl));
    const r = await e.tokenRequest(assertionForm(assertion));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.token_type, "Bearer");
    assert.equal(r.json.expires_in, 300);
    assert.equal(r.headers.get("cache-control"), "no-store");
    const checked = await e.tokens.verify(r.json.access_token);
    assert.ok(checked.ok);
    assert.equal(checked.sourceId, "lab-rs");
    assert.equal(checked.environment, "development");
    assert.equal(checked.clientId, "lab-rs-client");
    assert.ok(Math.abs(checked.expiresAt - (Date.now() + 300_000)) < 5_000);
    assert.ok(e.lines.some((l) => /token\.issued .*source=lab-rs .*method=assertion/.test(l)));
    // The assertion itself is never written to the log.
    assert.ok(e.lines.every((l) => !l.includes(assertion.split(".")[2]!)));
  });
});

Deno.test("token endpoint accepts an ES384 assertion addressed to the configured public token URL", async () => {
  assert.equal(tokenUrlFor("https://engine.example.org/"), PUBLIC_TOKEN_URL);
  await withIngress({}, async (e) => {
    const assertion = await signAssertion(keys.es, claimsFor("lab-es-client", PUBLIC_TOKEN_URL));
    const r = await e.tokenRequest({ ...assertionForm(assertion), client_id: "lab-es-client" });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const checked = await e.tokens.verify(r.json.access_token);
    assert.ok(checked.ok && checked.sourceId === "lab-es" && checked.environment === "production");
  });
});

Deno.test("token endpoint refuses each bad assertion with invalid_client saying exactly what is wrong", async () => {
  const rs256 = await clientKey("RS256", "rs-1");
  const impostor = await clientKey("RS384", "rs-1");
  await withIngress({}, async (e) => {
    const base = () => claimsFor("lab-rs-client", e.tokenUrl);
    const cases: [string, Promise<string>, RegExp][] = [
      ["missing kid", signAssertion(keys.rs, base(), { alg: "RS384" }), /header has no kid/],
      [
        "unknown kid",
        signAssertion(keys.rs, base(), { alg: "RS384", kid: "rs-9" }),
        /unknown key: no key with kid "rs-9" in the configured JWKS/,
      ],
      [
        "expired",
        signAssertion(keys.rs, { ...base(), exp: now() - 120, iat: now() - 180 }),
        /the assertion expired at \d{4}-\d\d-\d\dT/,
      ],
      [
        "exp too far ahead",
        signAssertion(keys.rs, { ...base(), exp: now() + 900 }),
        /exp is (899|900) s ahead: at most 300 s is accepted/,
      ],
      ["no exp", signAssertion(keys.rs, { ...base(), exp: undefined }), /has no exp/],
      ["no jti", signAssertion(keys.rs, { ...base(), jti: undefined }), /has no jti/],
      [
        "wrong audience",
        signAssertion(keys.rs, { ...base(), aud: "https://elsewhere.example/token" }),
        /wrong audience "https:\/\/elsewhere\.example\/token": expected the token URL/,
      ],
      [
        "iss differs from sub",
        signAssertion(keys.rs, { ...base(), sub: "someone-else" }),
        /iss \("lab-rs-client"\) and sub \("someone-else"\) must both be your client id/,
      ],
      [
        "RS256",
        signAssertion(rs256, base(), { alg: "RS256", kid: "rs-1" }),
        /algorithm "RS256" is not accepted: sign with RS384 or ES384/,
      ],
      [
        "bad signature",
        signAssertion(impostor, base()),
        /bad signature: the assertion does not verify with key "rs-1"/,
      ],
      [
        "unknown client",
        signAssertion(keys.rs, { ...base(), iss: "nobody", sub: "nobody" }),
        /unknown client id "nobody"/,
      ],
      [
        "ES384 header naming an RSA key",
        signAssertion(keys.es, base(), { alg: "ES384", kid: "rs-1" }),
        /key "rs-1" in the configured JWKS cannot verify ES384 \(it is kty RSA/,
      ],
      [
        "a secret client using an assertion",
        signAssertion(keys.rs, claimsFor("lab-secret-client", e.tokenUrl)),
        /client "lab-secret-client" authenticates with a client secret, not a JWT/,
      ],
    ];
    for (const [name, assertion, why] of cases) {
      const r = await e.tokenRequest(assertionForm(await assertion));
      assert.equal(r.status, 401, name);
      assert.equal(r.json.error, "invalid_client", name);
      assert.match(r.json.error_description, why, name);
      assert.equal(r.json.access_token, undefined, name);
    }
    // The refusals are logged with their reason, for the operator.
    assert.equal(e.lines.filter((l) => l.includes("token.refused")).length, cases.length);
  });
});

Deno.test("token endpoint refuses a replayed jti", async () => {
  await withIngress({}, async (e) => {
    const assertion = await signAssertion(keys.rs, claimsFor("lab-rs-client", e.tokenUrl));
    assert.equal((await e.tokenRequest(assertionForm(assertion))).status, 200);
    const again = await e.tokenRequest(assertionForm(assertion));
    assert.equal(again.status, 401);
    assert.equal(again.json.error, "invalid_client");
    assert.match(again.json.error_description, /jti "[0-9a-f-]{36}" was already used/);
    // A fresh jti from the same client goes through.
    const fresh = await signAssertion(keys.rs, claimsFor("lab-rs-client", e.tokenUrl));
    assert.equal((await e.tokenRequest(assertionForm(fresh))).status, 200);
  });
});

Deno.test("a jti is accepted once even when verifiers on two KV connections race for it", async () => {
  await using dir = await tempDir({ prefix: "token-assertion-" });
  const kvs = [await Deno.openKv(`${dir.path}/auth.kv`), await Deno.openKv(`${dir.path}/auth.kv`)];
  try {
    const sources = testSources();
    const verifiers = kvs.map((kv) =>
      new ClientAssertionVerifier({ sources, state: new AuthState(kv) })
    );
    const aud = "https://engine.example.org/v2/auth/token";
    const assertion = await signAssertion(keys.es, claimsFor("lab-es-client", aud));
    const results = await Promise.all(
      Array.from(
        { length: 16 },
        (_, i) => verifiers[i % 2]!.verify(assertion, { audiences: [aud] }),
      ),
    );
    assert.equal(results.filter((r) => r.ok).length, 1);
    for (const r of results.filter((r) => !r.ok)) {
      assert.ok(!r.ok && /already used/.test(r.description), JSON.stringify(r));
    }
  } finally {
    for (const kv of kvs) kv.close();
  }
});

Deno.test("token endpoint answers malformed requests with invalid_request or unsupported_grant_type", async () => {
  await withIngress({}, async (e) => {
    const assertion = await signAssertion(keys.rs, claimsFor("lab-rs-client", e.tokenUrl));
    const cases: [string, Promise<Response>, number, string, RegExp][] = [
      [
        "JSON body",
        e.fetch(e.tokenUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        }),
        400,
        "invalid_request",
        /Content-Type must be application\/x-www-form-urlencoded; got "application\/json"/,
      ],
      [
        "no grant_type",
        form(e, { client_id: "lab-secret-client", client_secret: "x" }),
        400,
        "invalid_request",
        /grant_type is missing/,
      ],
      [
        "password grant",
        form(e, { grant_type: "password" }),
        400,
        "unsupported_grant_type",
        /grant_type "password" is not supported: use client_credentials/,
      ],
      [
        "repeated parameter",
        formText(e, "grant_type=client_credentials&grant_type=client_credentials"),
        400,
        "invalid_request",
        /grant_type is given more than once/,
      ],
      [
        "no client authentication",
        form(e, { grant_type: "client_credentials" }),
        401,
        "invalid_client",
        /no client authentication/,
      ],
      [
        "two methods",
        form(e, { ...assertionForm(assertion), client_secret: "x" }),
        400,
        "invalid_request",
        /use one client authentication method, not client_assertion and client_secret/,
      ],
      [
        "wrong assertion type",
        form(e, { ...assertionForm(assertion), client_assertion_type: "urn:x" }),
        400,
        "invalid_request",
        /client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer/,
      ],
      [
        "not a JWT",
        form(e, assertionForm("not-a-jwt")),
        400,
        "invalid_request",
        /client_assertion is not a signed JWT/,
      ],
      [
        "client_id differs from iss",
        form(e, { ...assertionForm(assertion), client_id: "lab-es-client" }),
        401,
        "invalid_client",
        /client_id "lab-es-client" does not match the assertion's iss "lab-rs-client"/,
      ],
      [
        "oversized form",
        formText(e, `grant_type=client_credentials&pad=${"x".repeat(70_000)}`),
        413,
        "invalid_request",
        /larger than 65536 bytes/,
      ],
    ];
    for (const [name, pending, status, error, why] of cases) {
      const r = await pending;
      const body = await r.json();
      assert.equal(r.status, status, name);
      assert.equal(body.error, error, name);
      assert.match(body.error_description, why, name);
    }
    const get = await e.fetch(e.tokenUrl);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    await get.body?.cancel();
  });
});

function form(e: { fetch: typeof fetch; tokenUrl: string }, fields: Record<string, string>) {
  return formText(e, new URLSearchParams(fields).toString());
}

function formText(e: { fetch: typeof fetch; tokenUrl: string }, text: string) {
  return e.fetch(e.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: text,
  });
}
