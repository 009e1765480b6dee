/**
 * A client assertion's audience is the configured public token URL, never one derived from the
 * request: a forged `Host` header gains nothing. And a config with assertion sources must say
 * that URL (`http.publicUrl`).
 * @module
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import {
  assertionForm,
  claimsFor,
  type Ingress,
  keys,
  PUBLIC_TOKEN_URL,
  signAssertion,
  withIngress,
} from "./ingress_fixture.ts";
import { readResponse } from "./raw_http.ts";

const enc = new TextEncoder();

/** POSTs `form` to the token endpoint over raw TLS with the `Host` header given. */
async function tokenRequestWithHost(e: Ingress, host: string, form: Record<string, string>) {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: e.port,
    caCerts: [e.pki.caCert],
  });
  try {
    const body = new URLSearchParams(form).toString();
    await conn.write(enc.encode(
      `POST /v2/auth/token HTTP/1.1\r\nHost: ${host}\r\n` +
        "Content-Type: application/x-www-form-urlencoded\r\n" +
        `Content-Length: ${enc.encode(body).length}\r\nConnection: close\r\n\r\n${body}`,
    ));
    const r = await readResponse(conn, 10_000);
    return { status: r.status, json: JSON.parse(r.body) };
  } finally {
    conn.close();
  }
}

Deno.test("an assertion addressed to a forged Host's token URL is refused; the configured URL works with any Host", async () => {
  await withIngress({ tokenUrls: [PUBLIC_TOKEN_URL] }, async (e) => {
    const forgedUrl = "https://api.partner.example/v2/auth/token";
    const forged = await signAssertion(keys.es, claimsFor("lab-es-client", forgedUrl));
    const refused = await tokenRequestWithHost(e, "api.partner.example", assertionForm(forged));
    assert.equal(refused.status, 401, JSON.stringify(refused.json));
    assert.equal(refused.json.error, "invalid_client");
    assert.equal(
      refused.json.error_description,
      `wrong audience "${forgedUrl}": expected the token URL, "${PUBLIC_TOKEN_URL}"`,
    );
    // The loopback URL the request really reached is not configured either.
    const local = await signAssertion(keys.es, claimsFor("lab-es-client", e.tokenUrl));
    assert.equal((await e.tokenRequest(assertionForm(local))).status, 401);

    const good = await signAssertion(keys.es, claimsFor("lab-es-client", PUBLIC_TOKEN_URL));
    const issued = await tokenRequestWithHost(e, "api.partner.example", assertionForm(good));
    assert.equal(issued.status, 200, JSON.stringify(issued.json));
    assert.equal(issued.json.token_type, "Bearer");
  });
});

Deno.test("without a configured token URL every assertion is refused, saying why", async () => {
  await withIngress({ tokenUrls: [] }, async (e) => {
    const assertion = await signAssertion(keys.rs, claimsFor("lab-rs-client", e.tokenUrl));
    const r = await e.tokenRequest(assertionForm(assertion));
    assert.equal(r.status, 401);
    assert.match(r.json.error_description, /no public token URL configured \(http\.publicUrl\)/);
  });
});

Deno.test("config requires http.publicUrl when a source signs JWT client assertions", () => {
  const lenient = { env: () => "x", readFile: () => new Error("no files") };
  const source = (auth: unknown) => ({
    sources: [{ id: "lab", environment: "development", clientId: "lab", auth }],
  });
  const jwks = { keys: [keys.rs.jwk] };
  const missing = parseConfig(source({ jwks }), lenient);
  assert.equal(missing.ok, false);
  assert.deepEqual(!missing.ok && missing.problems, [{
    path: "$.http.publicUrl",
    message: 'required: source "lab" signs JWT client assertions, whose aud must be ' +
      "<publicUrl>/v2/auth/token; set the base URL clients reach the engine at " +
      '(e.g. "https://engine.example.org", or "http://127.0.0.1:8080" for development)',
  }]);
  const withUrl = parseConfig(
    { ...source({ jwks }), http: { development: true, publicUrl: "http://127.0.0.1:8080" } },
    lenient,
  );
  assert.ok(withUrl.ok, JSON.stringify(!withUrl.ok && withUrl.problems));
  // A secret needs no audience.
  assert.ok(parseConfig(source({ secret: { env: "S" } }), lenient).ok);
});
