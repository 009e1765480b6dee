/**
 * Google's auth strategies against a local server that implements the documented request and
 * response shapes (fixtures/google_server.ts) and refuses wrong ones: a service-account key JSON
 * signing a JWT bearer assertion, and Workload Identity Federation (subject token from a file or
 * an executable, STS exchange, optional service-account impersonation). Each: token obtained,
 * cached, refreshed before expiry, and refusals named in the error and in the delivery attempt.
 */

import assert from "node:assert/strict";
import { exportPKCS8, exportSPKI, generateKeyPair, importSPKI } from "jose";
import { parseConfig } from "../../../../actors/config/mod.ts";
import { ALLOW_EXECUTABLES, CredentialError } from "../../../../actors/https_out/mod.ts";
import { ManualClock } from "../../../../actors/runtime/clock.ts";
import { FetchSender } from "../../../../transports/https/fetch_sender.ts";
import { waitFor } from "../../../helpers/net.ts";
import { makePki } from "../../../helpers/tls.ts";
import { callApi, strategyFor } from "../fixtures/call.ts";
import { httpsDestinationConfig } from "../fixtures/config.ts";
import { startGoogleServer } from "../fixtures/google_server.ts";
import { startHttpsOutbound } from "../fixtures/https_outbound.ts";
import { tempDir } from "../../../helpers/temp.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

const SA_EMAIL = "engine@project-1.iam.gserviceaccount.com";
const AUDIENCE =
  "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/oidc";
const JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt";

async function rsaKey() {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  // Round-tripped through SPKI so the server holds an ordinary public key.
  const pub = await importSPKI(await exportSPKI(publicKey), "RS256");
  return { publicKey: pub, pem: await exportPKCS8(privateKey) };
}

/** A service-account key JSON as Google writes it (every field, unchanged). */
function serviceAccountJson(pem: string, tokenUri: string, keyId = "kid-1"): string {
  return JSON.stringify({
    type: "service_account",
    project_id: "project-1",
    private_key_id: keyId,
    private_key: pem,
    client_email: SA_EMAIL,
    client_id: "1234567890",
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: tokenUri,
    auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url: "https://www.googleapis.com/robot/v1/metadata/x509/engine",
    universe_domain: "googleapis.com",
  });
}

/** An external_account JSON as `gcloud iam workload-identity-pools create-cred-config` writes it. */
function externalAccountJson(
  stsUrl: string,
  credentialSource: Record<string, unknown>,
  impersonationUrl?: string,
): string {
  return JSON.stringify({
    universe_domain: "googleapis.com",
    type: "external_account",
    audience: AUDIENCE,
    subject_token_type: JWT_TYPE,
    token_url: stsUrl,
    credential_source: credentialSource,
    ...(impersonationUrl ? { service_account_impersonation_url: impersonationUrl } : {}),
  });
}

function googleHttps(url: string, auth: Record<string, unknown>, json: string) {
  return httpsDestinationConfig({
    https: { url, verificationToken: { env: "VT" }, auth: { ...auth, credentials: { env: "GJ" } } },
    env: { VT: "vt-google", GJ: json },
  });
}

Deno.test("google service account: the JWT assertion is accepted, the token cached, then refreshed before expiry", async () => {
  const key = await rsaKey();
  const google = startGoogleServer({
    pki,
    serviceAccount: { clientEmail: SA_EMAIL, keyId: "kid-1", publicKey: key.publicKey },
    expiresIn: 3599,
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const { https } = googleHttps(
      google.apiUrl,
      { type: "google-service-account", scope: "https://www.googleapis.com/auth/cloud-healthcare" },
      serviceAccountJson(key.pem, google.tokenUri),
    );
    const { strategy, clock } = strategyFor(https, sender);
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal(google.count("jwt"), 1, "the second call used the cached token");
    const claims = google.assertions[0]!;
    assert.equal(claims.iss, SA_EMAIL);
    assert.equal(claims.aud, google.tokenUri);
    assert.equal(claims.scope, "https://www.googleapis.com/auth/cloud-healthcare");
    assert.equal(claims.sub, undefined, "no sub without domain-wide delegation");
    assert.equal((claims.exp as number) - (claims.iat as number), 3600);
    const info = strategy.info();
    assert.equal(info.type, "google-service-account");
    assert.ok(info.tokenRefreshAt! < info.tokenExpiresAt!, "refreshed before it expires");
    // Just before the refresh time: still cached; at it: a new assertion.
    clock.advance(info.tokenRefreshAt! - clock.now() - 1);
    await callApi(strategy, sender, google.apiUrl);
    assert.equal(google.count("jwt"), 1);
    clock.advance(2);
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal(google.count("jwt"), 2, "a new token was fetched before the old one expired");
  } finally {
    sender.close();
    await google.close();
  }
});

Deno.test("google service account: a key Google does not know is refused, named in the error and the attempt", async () => {
  const known = await rsaKey();
  const other = await rsaKey();
  const google = startGoogleServer({
    pki,
    serviceAccount: { clientEmail: SA_EMAIL, keyId: "kid-1", publicKey: known.publicKey },
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  const clock = new ManualClock(Date.now());
  const { config, https } = googleHttps(
    google.apiUrl,
    { type: "google-service-account" },
    serviceAccountJson(other.pem, google.tokenUri),
  );
  const out = await startHttpsOutbound({ config, caCert: pki.caCert, clock });
  try {
    const { strategy } = strategyFor(https, sender);
    await assert.rejects(
      callApi(strategy, sender, google.apiUrl),
      (e: Error) =>
        e instanceof CredentialError &&
        e.message.includes(`token endpoint ${google.tokenUri} answered HTTP 400: invalid_grant`) &&
        e.message.includes("Invalid JWT Signature") && !e.message.includes("PRIVATE KEY"),
    );
    await out.enqueue({ key: "m1", payload: '{"n":1}' });
    await waitFor("the first attempt", async () => (await out.logOf("m1")).attemptCount >= 1);
    const reason = (await out.logOf("m1")).attempts[0]!.reason!;
    assert.match(reason, /^credentials: token endpoint .*\/token answered HTTP 400: invalid_grant/);
    assert.equal(google.count("api"), 0, "nothing was sent without a token");
  } finally {
    await out.stop();
    sender.close();
    await google.close();
  }
});

Deno.test("google credential JSON: accepted unchanged; a wrong file is a config error at its path", () => {
  const parse = (json: string, type: string) =>
    parseConfig({
      environments: [{ id: "env", type: "development" }],
      destinations: [{
        id: "ehr",
        environment: "env",
        https: {
          url: "https://healthcare.googleapis.com/v1/x",
          verificationToken: { env: "VT" },
          auth: { type, credentials: { env: "GJ" } },
        },
      }],
    }, { env: (n) => (n === "VT" ? "vt" : json), readFile: () => new Error("none") });
  const ok = parse(
    serviceAccountJson("-----BEGIN PRIVATE KEY-----\nx\n", "https://oauth2.googleapis.com/token"),
    "google-service-account",
  );
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.problems));
  const wif = parse(
    externalAccountJson("https://sts.googleapis.com/v1/token", {
      file: "/var/run/token",
      format: { type: "json", subject_token_field_name: "id_token" },
    }),
    "google-external-account",
  );
  assert.ok(wif.ok, JSON.stringify(!wif.ok && wif.problems));
  const swapped = parse(
    externalAccountJson("https://sts.googleapis.com/v1/token", { file: "/t" }),
    "google-service-account",
  );
  assert.ok(!swapped.ok);
  assert.equal(swapped.problems[0]!.path, "$.destinations[0].https.auth.credentials");
  assert.match(
    swapped.problems[0]!.message,
    /"type": "external_account"; expected "service_account"/,
  );
  const aws = parse(
    externalAccountJson("https://sts.googleapis.com/v1/token", { environment_id: "aws1" }),
    "google-external-account",
  );
  assert.ok(!aws.ok);
  assert.match(aws.problems[0]!.message, /credential_source needs exactly one of/);
});

Deno.test("google workload identity federation from a file: STS exchange, cached, refreshed with the file read again", async () => {
  await using dir = await tempDir({ prefix: "wif-" });
  const valid = new Set(["subject-1"]);
  const google = startGoogleServer({
    pki,
    audience: AUDIENCE,
    subjectTokenType: JWT_TYPE,
    validSubjectTokens: valid,
    expiresIn: 3600,
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    await Deno.writeTextFile(`${dir.path}/token.json`, JSON.stringify({ id_token: "subject-1" }));
    const { https } = googleHttps(
      google.apiUrl,
      { type: "google-external-account" },
      externalAccountJson(google.stsUrl, {
        file: `${dir.path}/token.json`,
        format: { type: "json", subject_token_field_name: "id_token" },
      }),
    );
    const { strategy, clock } = strategyFor(https, sender);
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal(google.count("sts"), 1, "cached");
    const sts = google.requests.find((r) => r.path === "/v1/token")!;
    const form = new URLSearchParams(sts.text);
    assert.equal(form.get("scope"), "https://www.googleapis.com/auth/cloud-platform");
    assert.equal(form.get("audience"), AUDIENCE);
    // The platform rotated the file: the refresh reads it again.
    valid.clear();
    valid.add("subject-2");
    await Deno.writeTextFile(`${dir.path}/token.json`, JSON.stringify({ id_token: "subject-2" }));
    clock.advance(strategy.info().tokenRefreshAt! - clock.now());
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal(google.count("sts"), 2, "refreshed at the refresh time");
    // A subject token the STS does not accept is named with the STS's own words.
    valid.clear();
    strategy.invalidate();
    await assert.rejects(
      callApi(strategy, sender, google.apiUrl),
      (e: Error) =>
        e instanceof CredentialError &&
        /^Google STS token exchange: token endpoint .*\/v1\/token answered HTTP 400: invalid_grant: The token has expired/
          .test(e.message),
    );
    await Deno.remove(`${dir.path}/token.json`);
    await assert.rejects(
      callApi(strategy, sender, google.apiUrl),
      (e: Error) =>
        e instanceof CredentialError &&
        e.message.includes(`subject token file ${dir.path}/token.json`),
    );
  } finally {
    sender.close();
    await google.close();
  }
});

Deno.test("google workload identity federation with impersonation: STS, then generateAccessToken; a refusal is named in the attempt", async () => {
  await using dir = await tempDir({ prefix: "wif-" });
  const google = startGoogleServer({
    pki,
    audience: AUDIENCE,
    subjectTokenType: JWT_TYPE,
    validSubjectTokens: new Set(["subject-1"]),
    impersonable: SA_EMAIL,
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  await Deno.writeTextFile(`${dir.path}/token`, "subject-1\n");
  const source = { file: `${dir.path}/token` };
  const good = googleHttps(
    google.apiUrl,
    { type: "google-external-account", scope: "https://www.googleapis.com/auth/cloud-healthcare" },
    externalAccountJson(google.stsUrl, source, google.impersonationUrl(SA_EMAIL)),
  );
  const denied = googleHttps(
    google.apiUrl,
    { type: "google-external-account" },
    externalAccountJson(
      google.stsUrl,
      source,
      google.impersonationUrl("other@p.iam.gserviceaccount.com"),
    ),
  );
  const out = await startHttpsOutbound({ config: denied.config, caCert: pki.caCert });
  try {
    const { strategy } = strategyFor(good.https, sender);
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal(google.count("sts"), 1);
    assert.equal(google.count("iam"), 1, "the impersonated token is cached");
    const final = google.issued.find((t) => t.kind === "iam")!;
    assert.equal(final.scope, "https://www.googleapis.com/auth/cloud-healthcare");
    const iamRequest = google.requests.find((r) => r.path.includes("generateAccessToken"))!;
    assert.deepEqual(JSON.parse(iamRequest.text), {
      scope: ["https://www.googleapis.com/auth/cloud-healthcare"],
      lifetime: "3600s",
    });
    const info = strategy.info();
    assert.ok(info.tokenExpiresAt! - info.tokenFetchedAt! > 3500_000, "expiry from expireTime");

    await out.enqueue({ key: "m1", payload: '{"n":1}' });
    await waitFor("the first attempt", async () => (await out.logOf("m1")).attemptCount >= 1);
    assert.match(
      (await out.logOf("m1")).attempts[0]!.reason!,
      /^credentials: service account impersonation .*generateAccessToken answered HTTP 403: PERMISSION_DENIED Permission 'iam\.serviceAccounts\.getAccessToken' denied/,
    );
  } finally {
    await out.stop();
    sender.close();
    await google.close();
  }
});

Deno.test("google workload identity federation from an executable: run only when allowed, with Google's variables and response format", async () => {
  await using dir = await tempDir({ prefix: "wif-exe-" });
  const google = startGoogleServer({
    pki,
    audience: AUDIENCE,
    subjectTokenType: JWT_TYPE,
    validSubjectTokens: new Set([`exe:${AUDIENCE}`]),
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  // Prints Google's executable response; the token proves the variables reached it.
  const script = `${dir.path}/token.sh`;
  await Deno.writeTextFile(
    script,
    `#!/bin/sh
[ "$GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE" = 0 ] || exit 3
if [ "$1" = fail ]; then
  echo '{"version": 1, "success": false, "code": "401", "message": "Caller not authorized."}'
  exit 1
fi
echo "{\\"version\\": 1, \\"success\\": true, \\"token_type\\": \\"$GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE\\", \\"id_token\\": \\"exe:$GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE\\", \\"expiration_time\\": ${
      Math.floor(Date.now() / 1000) + 3600
    }}"
`,
  );
  await Deno.chmod(script, 0o755);
  const previous = Deno.env.get(ALLOW_EXECUTABLES);
  try {
    const config = (args: string) =>
      googleHttps(
        google.apiUrl,
        { type: "google-external-account" },
        externalAccountJson(google.stsUrl, {
          executable: { command: `${script}${args}`, timeout_millis: 5000 },
        }),
      ).https;
    Deno.env.delete(ALLOW_EXECUTABLES);
    const blocked = strategyFor(config(""), sender).strategy;
    await assert.rejects(
      callApi(blocked, sender, google.apiUrl),
      (e: Error) =>
        e instanceof CredentialError && e.message.includes(`set ${ALLOW_EXECUTABLES}=1`),
    );
    Deno.env.set(ALLOW_EXECUTABLES, "1");
    const { strategy } = strategyFor(config(""), sender);
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal((await callApi(strategy, sender, google.apiUrl)).status, 200);
    assert.equal(google.count("sts"), 1);
    const failing = strategyFor(config(" fail"), sender).strategy;
    await assert.rejects(
      callApi(failing, sender, google.apiUrl),
      (e: Error) =>
        e instanceof CredentialError && e.message.includes("failed: 401: Caller not authorized."),
    );
  } finally {
    if (previous === undefined) Deno.env.delete(ALLOW_EXECUTABLES);
    else Deno.env.set(ALLOW_EXECUTABLES, previous);
    sender.close();
    await google.close();
  }
});
