/**
 * AWS SigV4 against a real HTTPS server that checks the signature as AWS does: it parses the
 * `Authorization` header (credential scope, signed headers), checks the key id, region, service,
 * the time against its own clock (15 minutes), the session token, then recomputes the signature
 * with `aws4` from the request it received (method, path and query, the signed headers' values,
 * the body bytes) and the secret key it holds, and compares.
 */

import assert from "node:assert/strict";
// @ts-types="@types/aws4"
import aws4 from "aws4";
import { timingSafeEqual } from "../../../../actors/config/mod.ts";
import { FetchSender } from "../../../../transports/https/fetch_sender.ts";
import { makePki } from "../../../helpers/tls.ts";
import { callApi, strategyFor } from "../fixtures/call.ts";
import { httpsDestinationConfig } from "../fixtures/config.ts";
import { type Received, startServer } from "../fixtures/server.ts";
import { startHttpsOutbound } from "../fixtures/https_outbound.ts";
import { waitFor } from "../../../helpers/net.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION = "FwoGZXIvYXdzEBYaDEXAMPLESESSIONTOKEN//+==";
const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

/** The verdict of an AWS-like service on a request. */
function checkSigV4(
  req: Received,
  expect: { region: string; service: string; sessionToken?: string },
): { ok: true } | { ok: false; why: string } {
  const m = AUTH.exec(req.headers.get("authorization") ?? "");
  if (!m) return { ok: false, why: "MissingAuthenticationToken" };
  const [, keyId, day, region, service, signedList, signature] = m;
  if (keyId !== KEY_ID) return { ok: false, why: "InvalidClientTokenId" };
  if (region !== expect.region || service !== expect.service) {
    return { ok: false, why: `wrong scope ${region}/${service}` };
  }
  const amzDate = req.headers.get("x-amz-date") ?? "";
  const at = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"),
  );
  if (!Number.isFinite(at) || Math.abs(Date.now() - at) > 15 * 60_000) {
    return { ok: false, why: "RequestExpired" };
  }
  if (!amzDate.startsWith(day!)) {
    return { ok: false, why: "credential date differs from x-amz-date" };
  }
  const signed = signedList!.split(";");
  for (const required of ["host", "x-amz-date"]) {
    if (!signed.includes(required)) return { ok: false, why: `${required} is not signed` };
  }
  if (expect.sessionToken !== undefined) {
    if (req.headers.get("x-amz-security-token") !== expect.sessionToken) {
      return { ok: false, why: "InvalidToken" };
    }
    if (!signed.includes("x-amz-security-token")) return { ok: false, why: "token not signed" };
  }
  const headers: Record<string, string> = {};
  for (const name of signed) {
    // Over HTTP/2 the host travels as :authority, which counts as the host header.
    const value = name === "host" ? req.host : req.headers.get(name);
    if (value === null) return { ok: false, why: `signed header ${name} is missing` };
    headers[name] = value;
  }
  const recomputed = aws4.sign({
    host: headers.host,
    method: req.method,
    path: req.path,
    service,
    region,
    headers,
    body: req.body as unknown as string,
  }, {
    accessKeyId: KEY_ID,
    secretAccessKey: SECRET,
    ...(expect.sessionToken ? { sessionToken: expect.sessionToken } : {}),
  });
  const mine = AUTH.exec(String(recomputed.headers?.Authorization ?? ""))?.[6] ?? "";
  return timingSafeEqual(mine, signature!)
    ? { ok: true }
    : { ok: false, why: "SignatureDoesNotMatch" };
}

function startAwsLikeServer(expect: { region: string; service: string; sessionToken?: string }) {
  const verdicts: string[] = [];
  const server = startServer((req) => {
    const verdict = checkSigV4(req, expect);
    verdicts.push(verdict.ok ? "ok" : verdict.why);
    return verdict.ok
      ? Response.json({ accepted: true })
      : Response.json({ message: verdict.why }, { status: 403 });
  }, pki);
  return { server, verdicts };
}

function awsConfig(secretVar = "SECRET", sessionToken = false) {
  return awsDestination("https://127.0.0.1:1/unused", secretVar, sessionToken).https;
}

function awsDestination(url: string, secretVar = "SECRET", sessionToken = false) {
  return httpsDestinationConfig({
    https: {
      url,
      verificationToken: { env: "VT" },
      auth: {
        type: "aws-sigv4",
        region: "eu-west-1",
        service: "execute-api",
        accessKeyId: { env: "KEY_ID" },
        secretAccessKey: { env: secretVar },
        ...(sessionToken ? { sessionToken: { env: "SESSION" } } : {}),
      },
    },
    env: { VT: "verify-me", KEY_ID, SECRET, WRONG: "x" + SECRET.slice(1), SESSION },
  });
}

Deno.test("aws sigv4 signature is accepted by a server that recomputes it from the request", async () => {
  const { server, verdicts } = startAwsLikeServer({ region: "eu-west-1", service: "execute-api" });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const { strategy } = strategyFor(awsConfig(), sender);
    const urls = [
      `${server.origin}/prod/messages`,
      `${server.origin}/prod/messages?source=engine&b=2&a=1`,
      `${server.origin}/prod/a%20b/%C3%BC?q=x%20y`,
    ];
    for (const url of urls) {
      const res = await callApi(strategy, sender, url, '{"Patient":{"Name":"Zoë"}}');
      assert.equal(res.status, 200, `${url}: ${res.body}`);
    }
    // Bytes that are not UTF-8 are signed as they are sent.
    const bytes = new Uint8Array([0x4d, 0x53, 0x48, 0xe9, 0x0d, 0xff]);
    const headers = { "content-type": "application/octet-stream" };
    const url = `${server.origin}/prod/raw`;
    const auth = await strategy.apply({ method: "POST", url, headers, body: bytes });
    const res = await sender.send({
      url,
      method: "POST",
      headers: { ...headers, ...auth },
      body: bytes,
      timeoutMs: 5000,
    });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(verdicts, ["ok", "ok", "ok", "ok"]);
    assert.deepEqual(server.requests[3]?.body, bytes);
    assert.equal(strategy.info().type, "aws-sigv4");
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("aws sigv4 with a session token sends and signs x-amz-security-token", async () => {
  const { server, verdicts } = startAwsLikeServer({
    region: "eu-west-1",
    service: "execute-api",
    sessionToken: SESSION,
  });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const withToken = strategyFor(awsConfig("SECRET", true), sender).strategy;
    assert.equal((await callApi(withToken, sender, `${server.origin}/prod/x`)).status, 200);
    // The same keys without the session token are refused: the check is real.
    const without = strategyFor(awsConfig("SECRET", false), sender).strategy;
    assert.equal((await callApi(without, sender, `${server.origin}/prod/x`)).status, 403);
    assert.deepEqual(verdicts, ["ok", "InvalidToken"]);
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("aws sigv4 signed with a wrong secret key is refused with SignatureDoesNotMatch", async () => {
  const { server, verdicts } = startAwsLikeServer({ region: "eu-west-1", service: "execute-api" });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  try {
    const { strategy } = strategyFor(awsConfig("WRONG"), sender);
    const res = await callApi(strategy, sender, `${server.origin}/prod/messages`);
    assert.equal(res.status, 403);
    assert.deepEqual(verdicts, ["SignatureDoesNotMatch"]);
  } finally {
    sender.close();
    await server.close();
  }
});

Deno.test("aws sigv4 signs a delivery's x-engine id headers on every attempt", async () => {
  const expect = { region: "eu-west-1", service: "execute-api" };
  const verdicts: string[] = [];
  const server = startServer((req) => {
    const verdict = checkSigV4(req, expect);
    verdicts.push(verdict.ok ? "ok" : verdict.why);
    if (!verdict.ok) return Response.json({ message: verdict.why }, { status: 403 });
    // The first attempt fails after the signature checked out: the retry is signed anew.
    return server.requests.length === 1
      ? new Response("busy", { status: 500 })
      : Response.json({ accepted: true });
  }, pki);
  const out = await startHttpsOutbound({
    config: awsDestination(`${server.origin}/prod/messages`).config,
    caCert: pki.caCert,
  });
  try {
    await out.enqueue({ key: "m", payload: '{"Meta":{"DataModel":"PatientAdmin"}}' });
    await waitFor("delivered", async () => (await out.logOf("m")).status === "SUCCEEDED");
    assert.deepEqual(verdicts, ["ok", "ok"]);
    const log = await out.logOf("m");
    for (const [i, req] of server.requests.entries()) {
      assert.equal(req.headers.get("x-engine-delivery-id"), log.id);
      assert.equal(req.headers.get("x-engine-message-id"), log.messageId);
      assert.equal(req.headers.get("x-engine-attempt"), String(i + 1));
      const signed = AUTH.exec(req.headers.get("authorization") ?? "")?.[5]?.split(";") ?? [];
      for (const name of ["x-engine-attempt", "x-engine-delivery-id", "x-engine-message-id"]) {
        assert.ok(signed.includes(name), `${name} is signed: ${signed.join(";")}`);
      }
    }
    // A replay with any of them changed does not verify.
    const retry = server.requests[1]!;
    for (
      const [name, value] of Object.entries({
        "x-engine-attempt": "1",
        "x-engine-delivery-id": "another-log",
        "x-engine-message-id": "another-message",
      })
    ) {
      const headers = new Headers(retry.headers);
      headers.set(name, value);
      assert.deepEqual(checkSigV4({ ...retry, headers }, expect), {
        ok: false,
        why: "SignatureDoesNotMatch",
      }, name);
    }
  } finally {
    await out.stop();
    await server.close();
  }
});
