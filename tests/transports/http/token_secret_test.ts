import assert from "node:assert/strict";
import { claimsFor, keys, LAB_SECRET, signAssertion, withIngress } from "./ingress_fixture.ts";

const basic = (id: string, secret: string) =>
  `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;

Deno.test("token endpoint accepts a client secret by HTTP Basic", async () => {
  await withIngress({}, async (e) => {
    const r = await e.tokenRequest({ grant_type: "client_credentials" }, {
      authorization: basic("lab-secret-client", LAB_SECRET),
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.token_type, "Bearer");
    assert.equal(r.json.expires_in, 300);
    const checked = await e.tokens.verify(r.json.access_token);
    assert.ok(checked.ok && checked.sourceId === "lab-secret" && checked.environment === "staging");
    assert.ok(e.lines.some((l) => /token\.issued .*source=lab-secret .*method=basic/.test(l)));
  });
});

Deno.test("token endpoint accepts a client secret in the form", async () => {
  await withIngress({}, async (e) => {
    const r = await e.tokenRequest({
      grant_type: "client_credentials",
      client_id: "lab-secret-client",
      client_secret: LAB_SECRET,
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const checked = await e.tokens.verify(r.json.access_token);
    assert.ok(checked.ok && checked.sourceId === "lab-secret");
  });
});

Deno.test("token endpoint refuses a wrong secret, an unknown client and a JWT client's secret", async () => {
  await withIngress({}, async (e) => {
    const wrong = `${LAB_SECRET}x`;
    const byBasic = await e.tokenRequest({ grant_type: "client_credentials" }, {
      authorization: basic("lab-secret-client", wrong),
    });
    assert.equal(byBasic.status, 401);
    assert.deepEqual(byBasic.json, {
      error: "invalid_client",
      error_description: 'wrong client secret for "lab-secret-client"',
    });
    // RFC 6749 §5.2: a client that used the Authorization header is told the scheme to use.
    assert.match(byBasic.headers.get("www-authenticate") ?? "", /^Basic realm=/);

    const byForm = await e.tokenRequest({
      grant_type: "client_credentials",
      client_id: "lab-secret-client",
      client_secret: LAB_SECRET.slice(0, -1),
    });
    assert.equal(byForm.status, 401);
    assert.equal(byForm.json.error_description, 'wrong client secret for "lab-secret-client"');
    assert.equal(byForm.headers.get("www-authenticate"), null);

    const unknown = await e.tokenRequest({
      grant_type: "client_credentials",
      client_id: "nobody",
      client_secret: LAB_SECRET,
    });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json.error_description, 'unknown client id "nobody"');

    const jwtClient = await e.tokenRequest({ grant_type: "client_credentials" }, {
      authorization: basic("lab-rs-client", LAB_SECRET),
    });
    assert.equal(jwtClient.status, 401);
    assert.match(
      jwtClient.json.error_description,
      /"lab-rs-client" authenticates with a signed JWT client assertion, not a secret/,
    );

    const bearer = await e.tokenRequest({ grant_type: "client_credentials" }, {
      authorization: "Bearer abc",
    });
    assert.equal(bearer.status, 401);
    assert.match(bearer.json.error_description, /must use the Basic scheme/);

    const noColon = await e.tokenRequest({ grant_type: "client_credentials" }, {
      authorization: `Basic ${btoa("lab-secret-client")}`,
    });
    assert.equal(noColon.status, 401);
    assert.match(noColon.json.error_description, /no ':' between client id and secret/);

    const noClientId = await e.tokenRequest({
      grant_type: "client_credentials",
      client_secret: LAB_SECRET,
    });
    assert.equal(noClientId.status, 400);
    assert.match(noClientId.json.error_description, /client_id is missing/);

    const both = await e.tokenRequest({
      grant_type: "client_credentials",
      client_id: "lab-secret-client",
      client_secret: LAB_SECRET,
    }, { authorization: basic("lab-secret-client", LAB_SECRET) });
    assert.equal(both.status, 400);
    assert.match(both.json.error_description, /not Authorization header and client_secret/);

    // Neither the right secret nor the wrong ones reach the log.
    for (const line of e.lines) {
      assert.ok(!line.includes(LAB_SECRET.slice(0, -1)), `secret logged: ${line}`);
    }
    assert.equal(e.lines.filter((l) => l.includes("token.refused")).length, 8);
  });
});

Deno.test("an assertion client cannot present its assertion's signature as a secret", async () => {
  await withIngress({}, async (e) => {
    const assertion = await signAssertion(keys.rs, claimsFor("lab-rs-client", e.tokenUrl));
    const r = await e.tokenRequest({
      grant_type: "client_credentials",
      client_id: "lab-rs-client",
      client_secret: assertion,
    });
    assert.equal(r.status, 401);
    assert.equal(r.json.access_token, undefined);
  });
});

Deno.test("token endpoint slows down a client guessing secrets when given a rate limiter", async () => {
  await withIngress({ tokenRateLimit: 3 }, async (e) => {
    const guess = (secret: string) =>
      e.tokenRequest({ grant_type: "client_credentials" }, {
        authorization: basic("lab-secret-client", secret),
      });
    for (let i = 0; i < 3; i++) assert.equal((await guess(`guess-${i}`)).status, 401);
    const slowed = await guess(LAB_SECRET);
    assert.equal(slowed.status, 429);
    assert.equal(slowed.json.error, "slow_down");
    assert.match(slowed.json.error_description, /more than 3 token requests from your address/);
    const retry = Number(slowed.headers.get("retry-after"));
    assert.ok(retry >= 1 && retry <= 62, `Retry-After ${retry}`);
  });
});
