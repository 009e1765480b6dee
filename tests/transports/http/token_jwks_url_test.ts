import assert from "node:assert/strict";
import type { JWK } from "jose";
import {
  assertionForm,
  claimsFor,
  clientKey,
  type Ingress,
  signAssertion,
  testPki,
  testSources,
  withIngress,
} from "./ingress_fixture.ts";

const COOLDOWN_MS = 300;

/** A JWKS served over TLS by a real Deno.serve, whose keys the test swaps. */
async function jwksServer() {
  const pki = await testPki();
  const state = { keys: [] as JWK[], fetches: 0, status: 200 };
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    cert: pki.serverCert,
    key: pki.serverKey,
    onListen: () => {},
  }, (request) => {
    if (new URL(request.url).pathname !== "/.well-known/jwks.json") {
      return new Response("not found", { status: 404 });
    }
    state.fetches++;
    return Response.json({ keys: state.keys }, { status: state.status });
  });
  const client = Deno.createHttpClient({ caCerts: [pki.caCert] });
  return {
    state,
    url: `https://127.0.0.1:${server.addr.port}/.well-known/jwks.json`,
    fetch: ((input, init) => fetch(input, { ...init, client })) as typeof fetch,
    async close() {
      client.close();
      await server.shutdown();
    },
  };
}

const urlSource = (url: string) => ({
  id: "lab-url",
  environment: "development",
  clientId: "lab-url-client",
  auth: { jwksUrl: url },
});

async function ask(e: Ingress, key: Awaited<ReturnType<typeof clientKey>>, kid = key.kid) {
  const assertion = await signAssertion(key, claimsFor("lab-url-client", e.tokenUrl), {
    alg: key.alg,
    kid,
  });
  return await e.tokenRequest(assertionForm(assertion));
}

Deno.test("token endpoint follows a key rotation at the JWKS URL with one refetch per cooldown", async () => {
  const jwks = await jwksServer();
  const a = await clientKey("ES384", "key-a");
  const b = await clientKey("ES384", "key-b");
  jwks.state.keys = [a.jwk];
  try {
    await withIngress({
      sources: testSources([urlSource(jwks.url)]),
      assertion: { fetch: jwks.fetch, jwksCooldownMs: COOLDOWN_MS },
    }, async (e) => {
      assert.equal((await ask(e, a)).status, 200);
      assert.equal((await ask(e, a)).status, 200);
      assert.equal(jwks.state.fetches, 1, "the JWKS is cached between assertions");

      // The client rotates to key B. Right after a fetch, an unknown kid does not refetch.
      jwks.state.keys = [b.jwk];
      const early = await ask(e, b);
      assert.equal(early.status, 401);
      assert.match(
        early.json.error_description,
        /unknown key: no key with kid "key-b" in the JWKS at https:/,
      );
      assert.equal(jwks.state.fetches, 1);

      // Once the cooldown has passed, the unknown kid triggers one refetch and is found.
      await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
      const rotated = await ask(e, b);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
      assert.equal(jwks.state.fetches, 2);

      // The retired key is gone; a stream of unknown kids refetches at most once per cooldown.
      assert.equal((await ask(e, a)).status, 401);
      for (let i = 0; i < 5; i++) {
        const r = await ask(e, b, `bogus-${i}`);
        assert.equal(r.status, 401);
        assert.match(r.json.error_description, new RegExp(`no key with kid "bogus-${i}"`));
      }
      assert.equal(jwks.state.fetches, 2);
      await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
      assert.equal((await ask(e, b, "bogus-late")).status, 401);
      assert.equal(jwks.state.fetches, 3);
    });
  } finally {
    await jwks.close();
  }
});

Deno.test("token endpoint says when a source's JWKS URL cannot be fetched", async () => {
  const jwks = await jwksServer();
  const a = await clientKey("ES384", "key-a");
  jwks.state.status = 503;
  try {
    await withIngress({
      sources: testSources([urlSource(jwks.url)]),
      assertion: { fetch: jwks.fetch, jwksCooldownMs: COOLDOWN_MS },
    }, async (e) => {
      const r = await ask(e, a);
      assert.equal(r.status, 401);
      assert.equal(r.json.error, "invalid_client");
      assert.match(
        r.json.error_description,
        /cannot fetch the JWKS at https:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json: Expected 200 OK/,
      );
      // Once the URL answers, the same client gets through.
      jwks.state.status = 200;
      jwks.state.keys = [a.jwk];
      assert.equal((await ask(e, a)).status, 200);
    });
  } finally {
    await jwks.close();
  }
});
