/**
 * Token endpoints that say a token lives (nearly) for ever: `expires_in` of 1e308, a server's
 * "never expires" 9999999999999, or more than a double holds. The token is used, taken to live one
 * year (`MAX_TOKEN_LIFETIME_S`), and nothing computed from it is an invalid date: no error, no
 * crash of the delivery actor. Real HTTPS token endpoints and receivers on 127.0.0.1.
 */

import assert from "node:assert/strict";
import { requestToken, TokenCache } from "../../../../actors/https_out/mod.ts";
import { MAX_TOKEN_LIFETIME_S } from "../../../../actors/https_out/credentials/token_cache.ts";
import { ManualClock } from "../../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../../actors/runtime/log.ts";
import { FetchSender } from "../../../../transports/https/fetch_sender.ts";
import { waitFor } from "../../../helpers/net.ts";
import { makePki } from "../../../helpers/tls.ts";
import { startAuthServer } from "../fixtures/auth_server.ts";
import { callApi, strategyFor } from "../fixtures/call.ts";
import { httpsDestinationConfig } from "../fixtures/config.ts";
import { json, startHttpsOutbound, TOKEN } from "../fixtures/https_outbound.ts";
import { startServer } from "../fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

const YEAR_MS = MAX_TOKEN_LIFETIME_S * 1000;
/** The refresh margin of a token that lives longer than 300 s. */
const MARGIN_MS = 30_000;

/** Answers whose `expires_in` is beyond a year, as raw JSON text (1e400 is no JSON.stringify). */
const HUGE: Record<string, string> = {
  "/1e308": '{"access_token":"tok-a","token_type":"Bearer","expires_in":1e308}',
  "/never": '{"access_token":"tok-b","token_type":"Bearer","expires_in":9999999999999}',
  "/over-double": '{"access_token":"tok-c","token_type":"Bearer","expires_in":1e400}',
  "/digits": `{"access_token":"tok-d","token_type":"Bearer","expires_in":"${"9".repeat(400)}"}`,
  "/year-and-a-second": `{"access_token":"tok-e","token_type":"Bearer","expires_in":${
    MAX_TOKEN_LIFETIME_S + 1
  }}`,
};

Deno.test("token endpoint: an expires_in beyond one year (1e308, 9999999999999, 1e400, 400 digits) is read as one year", async () => {
  const server = startServer(
    (req) =>
      new Response(HUGE[req.path] ?? "{}", { headers: { "content-type": "application/json" } }),
    pki,
  );
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    for (const [path, answer] of Object.entries(HUGE)) {
      const grant = await requestToken({
        sender,
        tokenUrl: `${server.origin}${path}`,
        form: new URLSearchParams({ grant_type: "client_credentials" }),
        timeoutMs: 5000,
      });
      assert.deepEqual(grant, {
        accessToken: JSON.parse(answer).access_token,
        expiresInS: MAX_TOKEN_LIFETIME_S,
      }, path);
    }
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("token cache: a token said to live for ever (1e308, 9999999999999) is used for one year less 30 s, then fetched again", async () => {
  for (const expiresIn of ["1e308", "9999999999999"]) {
    let n = 0;
    const server = startServer(() => {
      n++;
      return new Response(
        `{"access_token":"tok-${n}","token_type":"Bearer","expires_in":${expiresIn}}`,
        { headers: { "content-type": "application/json" } },
      );
    }, pki);
    const sender = new FetchSender({ caCerts: [pki.caCert] });
    const clock = new ManualClock(Date.now());
    const log = memoryLogger();
    try {
      const cache = new TokenCache({
        clock,
        log,
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
      const fetchedAt = clock.now();
      assert.equal(await cache.get(), "tok-1", expiresIn);
      assert.equal(cache.fetchedAt, fetchedAt);
      assert.equal(cache.expiresAt, fetchedAt + YEAR_MS, expiresIn);
      assert.equal(cache.useUntil, fetchedAt + YEAR_MS - MARGIN_MS, expiresIn);
      const fetched = log.lines.find((l) => l.includes("https.token-fetched")) ?? "";
      assert.ok(
        fetched.includes(`useUntil=${new Date(fetchedAt + YEAR_MS - MARGIN_MS).toISOString()}`),
        fetched,
      );
      clock.advance(YEAR_MS - MARGIN_MS - 1);
      assert.equal(await cache.get(), "tok-1", "fetched again before a year less 30 s");
      clock.advance(1);
      assert.equal(await cache.get(), "tok-2", "not fetched again after a year less 30 s");
      assert.equal(n, 2);
    } finally {
      sender.close();
      await server.close();
    }
  }
});

Deno.test("token cache: a grant from any source with a lifetime beyond the dates a Date holds is taken as one year", async () => {
  const clock = new ManualClock(Date.now());
  for (const expiresInS of [1e308, 8.64e12, Number.POSITIVE_INFINITY]) {
    const cache = new TokenCache({
      clock,
      log: memoryLogger(),
      destinationId: "ehr",
      fetch: () => Promise.resolve({ accessToken: "t", expiresInS }),
    });
    assert.equal(await cache.get(), "t", String(expiresInS));
    assert.equal(cache.expiresAt, clock.now() + YEAR_MS, String(expiresInS));
  }
});

for (const expiresIn of [1e308, 9999999999999]) {
  Deno.test(`oauth2 with expires_in ${expiresIn}: the token is sent and reused, and its expiry shows one year on`, async () => {
    const server = startAuthServer({
      pki,
      expiresIn,
      checkTokenRequest: () => ({ ok: true, clientId: "engine" }),
    });
    const sender = new FetchSender({ caCerts: [pki.caCert] });
    try {
      const { strategy, clock } = strategyFor(
        httpsDestinationConfig({
          https: {
            url: server.resourceUrl,
            verificationToken: { env: "VT" },
            auth: {
              type: "oauth2",
              tokenUrl: server.tokenUrl,
              clientId: "engine",
              clientSecret: { env: "PW" },
            },
          },
          env: { VT: TOKEN, PW: "pw" },
        }).https,
        sender,
      );
      for (let i = 0; i < 3; i++) {
        assert.equal((await callApi(strategy, sender, server.resourceUrl)).status, 200);
      }
      assert.equal(server.tokenRequests.length, 1);
      assert.deepEqual(strategy.info(), {
        type: "oauth2",
        tokenFetchedAt: clock.now(),
        tokenExpiresAt: clock.now() + YEAR_MS,
        tokenRefreshAt: clock.now() + YEAR_MS - MARGIN_MS,
      });
    } finally {
      sender.close();
      await server.close();
    }
  });
}

Deno.test("https deliverer whose token endpoint says expires_in 1e308 delivers at the first attempt and keeps the token a year", async () => {
  const clock = new ManualClock(Date.now());
  const server = startAuthServer({
    pki,
    expiresIn: 1e308,
    checkTokenRequest: () => ({ ok: true, clientId: "engine" }),
  });
  const config = httpsDestinationConfig({
    https: {
      url: server.resourceUrl,
      verificationToken: { env: "VT" },
      auth: {
        type: "oauth2",
        tokenUrl: server.tokenUrl,
        clientId: "engine",
        clientSecret: { env: "PW" },
      },
    },
    env: { VT: TOKEN, PW: "pw" },
  }).config;
  const out = await startHttpsOutbound({ config, caCert: pki.caCert, clock });
  try {
    await out.enqueue({ key: "one", payload: json(1) }, { key: "two", payload: json(2) });
    await waitFor("both delivered", async () => (await out.logOf("two")).status === "SUCCEEDED");
    for (const key of ["one", "two"]) {
      const log = await out.logOf(key);
      assert.equal(log.attemptCount, 1, `${key}: ${JSON.stringify(log.attempts)}`);
    }
    assert.equal(server.tokenRequests.length, 1);
    assert.deepEqual(server.resourceRequests.map((r) => r.text), [json(1), json(2)]);
    const detail = (await out.actor.status()).detail ?? {};
    assert.equal(detail.tokenExpiresAt, clock.now() + YEAR_MS);
    assert.equal(detail.tokenRefreshAt, clock.now() + YEAR_MS - MARGIN_MS);
    assert.ok(
      !out.log.lines.some((l) => /Invalid time value|crash/i.test(l)),
      out.log.lines.join("\n"),
    );
  } finally {
    await out.stop();
    await server.close();
  }
});
