/**
 * The JWT bearer grant (RFC 7523) against a real HTTPS authorization server that verifies the
 * signed assertion with the client's public key (jose): signature, `kid`, `iss`, `sub`, `aud`,
 * `exp` at most 5 minutes ahead, and `jti` never reused.
 */

import assert from "node:assert/strict";
import { exportPKCS8, generateKeyPair } from "jose";
import { CredentialError, JWT_BEARER_GRANT } from "../../../../actors/https_out/mod.ts";
import { FetchSender } from "../../../../transports/https/fetch_sender.ts";
import { makePki } from "../../../helpers/tls.ts";
import { checkAssertion } from "../fixtures/assertions.ts";
import { startAuthServer } from "../fixtures/auth_server.ts";
import { callApi, strategyFor } from "../fixtures/call.ts";
import { httpsDestinationConfig } from "../fixtures/config.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

type Alg = "RS384" | "ES384" | "RS256" | "ES256";

function jwtConfig(
  tokenUrl: string,
  privateKeyPem: string,
  algorithm: Alg,
  extra: Record<string, unknown> = {},
) {
  return httpsDestinationConfig({
    https: {
      url: "https://127.0.0.1:1/unused",
      verificationToken: { env: "VT" },
      auth: {
        type: "jwt-bearer",
        tokenUrl,
        issuer: "engine-issuer",
        subject: "svc-account@example.org",
        privateKey: { env: "KEY" },
        keyId: "key-2026",
        algorithm,
        scope: "system/*.write",
        ...extra,
      },
    },
    env: { VT: "verify-me", KEY: privateKeyPem },
  }).https;
}

for (const alg of ["RS384", "ES384", "RS256", "ES256"] as const) {
  Deno.test(`jwt bearer grant with ${alg}: the server verifies the assertion and grants a token`, async () => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const seenJti = new Set<string>();
    const claims: Record<string, unknown>[] = [];
    const kids: (string | undefined)[] = [];
    const server = startAuthServer({
      pki,
      checkTokenRequest: async (_req, form, tokenUrl) => {
        if (form.get("grant_type") !== JWT_BEARER_GRANT) {
          return { ok: false, error: "unsupported_grant_type", description: "jwt-bearer only" };
        }
        const verdict = await checkAssertion(form.get("assertion"), {
          key: publicKey,
          algorithms: [alg],
          issuer: "engine-issuer",
          subject: "svc-account@example.org",
          audience: tokenUrl,
          seenJti,
        }, "invalid_grant");
        if (verdict.claims) claims.push(verdict.claims);
        kids.push(verdict.kid);
        return verdict.ok
          ? { ok: true, clientId: "engine-issuer", scope: form.get("scope")! }
          : verdict;
      },
    });
    const sender = new FetchSender({ caCerts: [pki.caCert] });
    try {
      const https = jwtConfig(server.tokenUrl, await exportPKCS8(privateKey), alg);
      const { strategy } = strategyFor(https, sender);
      assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
      strategy.invalidate();
      assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
      assert.equal(server.tokens.length, 2, "both assertions were accepted");
      assert.equal(server.tokens[0]?.scope, "system/*.write");
      assert.deepEqual(kids, ["key-2026", "key-2026"]);
      assert.equal(seenJti.size, 2, "the two assertions share a jti");
      for (const c of claims) {
        const exp = c.exp as number;
        const iat = c.iat as number;
        assert.ok(exp - iat <= 300 && exp > iat, `exp - iat = ${exp - iat}`);
      }
    } finally {
      sender.close();
      await server.close();
    }
  });
}

Deno.test("jwt bearer assertion is addressed to the configured audience when there is one", async () => {
  const { publicKey, privateKey } = await generateKeyPair("RS384", { extractable: true });
  const server = startAuthServer({
    pki,
    checkTokenRequest: async (_req, form) => {
      const verdict = await checkAssertion(form.get("assertion"), {
        key: publicKey,
        algorithms: ["RS384"],
        issuer: "engine-issuer",
        subject: "svc-account@example.org",
        audience: "https://auth.example.org/",
        seenJti: new Set(),
      }, "invalid_grant");
      return verdict.ok ? { ok: true, clientId: "engine-issuer" } : verdict;
    },
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const pem = await exportPKCS8(privateKey);
    const good = jwtConfig(server.tokenUrl, pem, "RS384", {
      audience: "https://auth.example.org/",
    });
    assert.equal(
      (await callApi(strategyFor(good, sender).strategy, sender, server.resourceUrl)).status,
      200,
    );
    // Without it the assertion names the token URL, which this server does not accept.
    const other = jwtConfig(server.tokenUrl, pem, "RS384");
    await assert.rejects(
      callApi(strategyFor(other, sender).strategy, sender, server.resourceUrl),
      (e: Error) =>
        e instanceof CredentialError && /HTTP 400: invalid_grant: .*aud/.test(e.message),
    );
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("jwt bearer with an unusable private key names the key and the problem", async () => {
  const server = startAuthServer({
    pki,
    checkTokenRequest: () => ({ ok: false, error: "invalid_grant", description: "unreachable" }),
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const ec = await generateKeyPair("ES384", { extractable: true });
    const cases: [string, RegExp][] = [
      [
        await exportPKCS8(ec.privateKey),
        /privateKey \(env:KEY\) is not a PKCS#8 PEM private key for RS384/,
      ],
      [
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
        /PKCS#1.*openssl pkcs8 -topk8/,
      ],
      ["not a key at all", /is not a PKCS#8 PEM private key for RS384/],
    ];
    for (const [pem, expected] of cases) {
      const { strategy } = strategyFor(jwtConfig(server.tokenUrl, pem, "RS384"), sender);
      await assert.rejects(
        strategy.apply({ method: "POST", url: server.resourceUrl, headers: {}, body: "" }),
        (e: Error) =>
          e instanceof CredentialError && expected.test(e.message) && !e.message.includes(pem),
      );
    }
    assert.equal(server.tokenRequests.length, 0);
  } finally {
    sender.close();
    await server.close();
  }
});
