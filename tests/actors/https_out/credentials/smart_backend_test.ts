/**
 * SMART Backend Services against a real HTTPS authorization server that authenticates the client
 * as the SMART spec says: a client assertion verified against the client's registered JWKS
 * (the key picked by `kid`), `iss` = `sub` = client id, `aud` = the token URL, `exp` at most
 * 5 minutes ahead, `jti` never reused, and the requested scope.
 */

import assert from "node:assert/strict";
import { exportJWK, exportPKCS8, generateKeyPair, type JSONWebKeySet } from "jose";
import { CredentialError, JWT_CLIENT_ASSERTION } from "../../../../actors/https_out/mod.ts";
import { FetchSender } from "../../../../transports/https/fetch_sender.ts";
import { makePki } from "../../../helpers/tls.ts";
import { checkAssertion } from "../fixtures/assertions.ts";
import { startAuthServer, type TokenDecision } from "../fixtures/auth_server.ts";
import { callApi, strategyFor } from "../fixtures/call.ts";
import { httpsDestinationConfig } from "../fixtures/config.ts";
import type { Received } from "../fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

const CLIENT_ID = "engine-backend-client";

/** Two registered keys of the client: an old one and the current one (rotation by `kid`). */
async function clientKeys(alg: "RS384" | "ES384") {
  const old = await generateKeyPair(alg, { extractable: true });
  const current = await generateKeyPair(alg, { extractable: true });
  const jwks: JSONWebKeySet = {
    keys: [
      { ...(await exportJWK(old.publicKey)), kid: "k-2025", alg, use: "sig" },
      { ...(await exportJWK(current.publicKey)), kid: "k-2026", alg, use: "sig" },
    ],
  };
  return { jwks, pem: await exportPKCS8(current.privateKey) };
}

function smartServerCheck(jwks: JSONWebKeySet, alg: string, seenJti: Set<string>) {
  return async (req: Received, form: URLSearchParams, tokenUrl: string): Promise<TokenDecision> => {
    if (form.get("grant_type") !== "client_credentials") {
      return { ok: false, error: "unsupported_grant_type", description: "client_credentials only" };
    }
    if (form.get("client_assertion_type") !== JWT_CLIENT_ASSERTION) {
      return { ok: false, error: "invalid_client", description: "client_assertion_type is wrong" };
    }
    if (req.headers.has("authorization")) {
      return { ok: false, error: "invalid_request", description: "two client authentications" };
    }
    const scope = form.get("scope");
    if (scope !== "system/Patient.rs system/Observation.c") {
      return { ok: false, error: "invalid_scope", description: `scope ${scope} not granted` };
    }
    const verdict = await checkAssertion(form.get("client_assertion"), {
      key: jwks,
      algorithms: [alg],
      issuer: CLIENT_ID,
      subject: CLIENT_ID,
      audience: tokenUrl,
      seenJti,
    }, "invalid_client");
    return verdict.ok ? { ok: true, clientId: CLIENT_ID, scope } : verdict;
  };
}

function smartConfig(tokenUrl: string, pem: string, alg: "RS384" | "ES384", keyId = "k-2026") {
  return httpsDestinationConfig({
    https: {
      url: "https://127.0.0.1:1/unused",
      verificationToken: { env: "VT" },
      auth: {
        type: "smart-backend",
        tokenUrl,
        clientId: CLIENT_ID,
        privateKey: { env: "KEY" },
        keyId,
        algorithm: alg,
        scope: "system/Patient.rs system/Observation.c",
      },
    },
    env: { VT: "verify-me", KEY: pem },
  }).https;
}

for (const alg of ["RS384", "ES384"] as const) {
  Deno.test(`smart backend services with ${alg}: the client assertion is verified against the JWKS by kid`, async () => {
    const { jwks, pem } = await clientKeys(alg);
    const seenJti = new Set<string>();
    const server = startAuthServer({
      pki,
      checkTokenRequest: smartServerCheck(jwks, alg, seenJti),
    });
    const sender = new FetchSender({ caCerts: [pki.caCert] });
    try {
      const { strategy } = strategyFor(smartConfig(server.tokenUrl, pem, alg), sender);
      assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
      assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
      assert.equal(server.tokenRequests.length, 1, "the token was not cached");
      // A new token needs a new assertion; the server refuses a replayed jti.
      server.revokeAll();
      strategy.invalidate();
      assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
      assert.equal(server.tokens.length, 2);
      assert.equal(seenJti.size, 2);
      assert.equal(server.tokens[1]?.scope, "system/Patient.rs system/Observation.c");
    } finally {
      sender.close();
      await server.close();
    }
  });
}

Deno.test("smart backend services with a kid the server does not know fails with its error", async () => {
  const { jwks, pem } = await clientKeys("RS384");
  const server = startAuthServer({
    pki,
    checkTokenRequest: smartServerCheck(jwks, "RS384", new Set()),
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const { strategy } = strategyFor(
      smartConfig(server.tokenUrl, pem, "RS384", "k-unknown"),
      sender,
    );
    await assert.rejects(
      callApi(strategy, sender, server.resourceUrl),
      (e: Error) =>
        e instanceof CredentialError && e.status === 400 &&
        e.message.startsWith(
          `token endpoint ${server.tokenUrl} answered HTTP 400: invalid_client:`,
        ),
    );
    // The key named k-2025 exists but is not the one we sign with: the signature is refused.
    const { strategy: wrong } = strategyFor(
      smartConfig(server.tokenUrl, pem, "RS384", "k-2025"),
      sender,
    );
    await assert.rejects(
      callApi(wrong, sender, server.resourceUrl),
      (e: Error) => e instanceof CredentialError && /signature verification failed/.test(e.message),
    );
    assert.equal(server.resourceRequests.length, 0);
  } finally {
    sender.close();
    await server.close();
  }
});
