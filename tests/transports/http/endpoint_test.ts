import assert from "node:assert/strict";
import type { ApiAcceptResult } from "../../../actors/ports.ts";
import { AuthState } from "../../../actors/store/auth_state.ts";
import { AccessTokens } from "../../../transports/http/access_token.ts";
import { withIngress } from "./ingress_fixture.ts";
import { hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import { adt } from "../../helpers/net.ts";

const message = {
  Meta: { DataModel: "PatientAdmin", EventType: "NewPatient", Test: true },
  Patient: { Identifiers: [{ ID: "0000000001", IDType: "MR" }] },
};

Deno.test("endpoint stores the message through the inbox and answers 200 with Meta.Logs", async () => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const text = JSON.stringify(message);
    const r = await e.post(text, token);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.Meta.DataModel, "PatientAdmin");
    assert.equal(r.json.Meta.Logs.length, 1);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(r.headers.get("x-ratelimit-limit"), "10000");
    assert.equal(r.headers.get("x-ratelimit-remaining"), "9999");

    const [request] = e.inbox.requests;
    assert.ok(request);
    assert.equal(request.sourceId, "lab-secret");
    assert.equal(request.environment, "staging");
    assert.equal(request.peerIp, "127.0.0.1");
    assert.deepEqual(request.json, message);
    assert.equal(new TextDecoder().decode(request.bytes), text);

    // The bytes are durably in KV under the log the answer names.
    const log = await e.store.getLog(r.json.Meta.Logs[0].ID);
    assert.ok(log);
    assert.equal(log.sourceId, "lab-secret");
    const record = await e.store.getMessage(log.messageId);
    assert.ok(record);
    assert.equal(new TextDecoder().decode(await e.store.getPayload(record)), text);
  });
});

Deno.test("endpoint refuses a missing, malformed, forged or expired token with 401 and WWW-Authenticate", async () => {
  await withIngress({}, async (e) => {
    const otherKv = await Deno.openKv(":memory:");
    try {
      const forged = await (await AccessTokens.open({ state: new AuthState(otherKv) })).issue({
        sourceId: "lab-secret",
        environment: "staging",
        clientId: "lab-secret-client",
      });
      // Issued with this engine's key, ten minutes ago.
      const stale = await (await AccessTokens.open({
        state: e.store.auth,
        now: () => Date.now() - 600_000,
      })).issue({ sourceId: "lab-secret", environment: "staging", clientId: "lab-secret-client" });
      const body = JSON.stringify(message);
      const cases: [string, Promise<Awaited<ReturnType<typeof e.post>>>, RegExp, RegExp][] = [
        ["no token", e.post(body, null), /^no access token/, /^Bearer$/],
        [
          "Basic scheme",
          e.post(body, null, { authorization: `Basic ${btoa("a:b")}` }),
          /must be Bearer <access token>/,
          /^Bearer$/,
        ],
        [
          "garbage",
          e.post(body, "abc.def"),
          /not a well-formed JWT/,
          /^Bearer error="invalid_token"/,
        ],
        [
          "forged",
          e.post(body, forged.token),
          /signature does not verify/,
          /^Bearer error="invalid_token"/,
        ],
        [
          "expired",
          e.post(body, stale.token),
          /the access token expired at \d{4}-.*: get a new one/,
          /error_description="the access token expired/,
        ],
      ];
      for (const [name, pending, text, challenge] of cases) {
        const r = await pending;
        assert.equal(r.status, 401, name);
        assert.match(r.json.Meta.Errors[0].Text, text, name);
        assert.match(r.headers.get("www-authenticate") ?? "", challenge, name);
      }
      assert.equal(e.inbox.requests.length, 0, "nothing reached the inbox");
      // Tokens are never written to the log.
      for (const line of e.lines) assert.ok(!line.includes(stale.token.split(".")[2]!));
    } finally {
      otherKv.close();
    }
  });
});

Deno.test("endpoint answers bad JSON with 400 naming the line, column and what was expected", async () => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const trailingComma = await e.post('{\n  "Meta": {"DataModel": "PatientAdmin",}\n}', token);
    assert.equal(trailingComma.status, 400);
    assert.deepEqual(trailingComma.json, {
      Meta: {
        Errors: [{
          Text: "invalid JSON at line 2, column 40 (character 41): " +
            'expected a double-quoted property name, found "}"',
        }],
      },
    });
    const truncated = await e.post('{"Meta": [1, 2', token);
    assert.equal(truncated.status, 400);
    assert.match(
      truncated.json.Meta.Errors[0].Text,
      /line 1, column 15 \(character 14\): expected ',' or ']' after an array element, found the end/,
    );
    const latin1 = await e.post(new Uint8Array([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]), token);
    assert.equal(latin1.status, 400);
    assert.equal(latin1.json.Meta.Errors[0].Text, "body is not valid UTF-8 (at byte 2)");
    // Half a surrogate pair is valid JSON text but no character: refused, naming where.
    const lone = await e.post(
      String.raw`{"Patient": {"Names": [{"LastName": "\udc00\ud800DOE"}]}}`,
      token,
    );
    assert.equal(lone.status, 400);
    assert.equal(
      lone.json.Meta.Errors[0].Text,
      String.raw`invalid text at $.Patient.Names[0].LastName: a lone UTF-16 surrogate (\udc00) ` +
        "is not a character; send the character itself, or both halves of its pair",
    );
    const xml = await e.post("<Patient/>", token, { "content-type": "application/xml" });
    assert.equal(xml.status, 415);
    assert.match(xml.json.Meta.Errors[0].Text, /Content-Type must be application\/json/);
    assert.equal(e.inbox.requests.length, 0);
  });
});

Deno.test("endpoint passes each inbox refusal on with its status and Meta.Errors", async () => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const cases: [ApiAcceptResult, number, unknown[]][] = [
      [
        {
          ok: false,
          status: 400,
          error: "the message is invalid",
          problems: [
            { path: "Meta.EventType", rule: "required" },
            { path: "Patient.Demographics.DOB", rule: "expected a date (YYYY-MM-DD)" },
          ],
        },
        400,
        [
          { Text: "required", Path: "Meta.EventType" },
          { Text: "expected a date (YYYY-MM-DD)", Path: "Patient.Demographics.DOB" },
        ],
      ],
      [
        { ok: false, status: 403, error: "destination d1 is in production, source in staging" },
        403,
        [{ Text: "destination d1 is in production, source in staging" }],
      ],
      [
        { ok: false, status: 404, error: "unknown destination d9" },
        404,
        [{ Text: "unknown destination d9" }],
      ],
      [
        { ok: false, status: 413, error: "embedded file over 10000000 bytes" },
        413,
        [{ Text: "embedded file over 10000000 bytes" }],
      ],
      [{ ok: false, status: 500, error: "store failed" }, 500, [{ Text: "store failed" }]],
    ];
    for (const [refusal, status, errors] of cases) {
      e.inbox.refusal = refusal;
      const r = await e.post(JSON.stringify(message), token);
      assert.equal(r.status, status);
      assert.deepEqual(r.json, { Meta: { Errors: errors } });
    }
    e.inbox.refusal = { ok: false, status: 503, error: "KV unavailable", retryAfterSeconds: 2.5 };
    const busy = await e.post(JSON.stringify(message), token);
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get("retry-after"), "3");

    e.inbox.refusal = undefined;
    e.inbox.crash = new Error("boom");
    const crashed = await e.post(JSON.stringify(message), token);
    assert.equal(crashed.status, 500);
    assert.deepEqual(crashed.json, {
      Meta: { Errors: [{ Text: "the message could not be stored: try again" }] },
    });
    assert.ok(
      e.lines.some((l) => /ERROR endpoint\.inbox-failed .*source=lab-secret .*boom/.test(l)),
    );

    const get = await e.fetch(`${e.base}/endpoint`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    await get.body?.cancel();
  });
});

Deno.test("a FHIR bundle the inbox fails to store gets a 500 OperationOutcome saying to try again, and one log line", async () => {
  await withIngress({}, async (e) => {
    const token = await e.secretToken();
    const bundle = hl7ToFhir(adt("FHIR500"));
    e.inbox.crash = new Error("kv boom");
    const r = await e.fetch(`${e.base}/fhir/R4/$process-message`, {
      method: "POST",
      headers: { "content-type": "application/fhir+json", authorization: `Bearer ${token}` },
      body: JSON.stringify(bundle),
    });
    const outcome = await r.json();
    assert.equal(r.status, 500);
    assert.equal(r.headers.get("content-type"), "application/fhir+json");
    assert.equal(outcome.resourceType, "OperationOutcome");
    assert.equal(outcome.issue[0].severity, "error");
    assert.match(outcome.issue[0].diagnostics, /could not be stored: try again/);
    assert.equal(
      e.lines.filter((l) => /ERROR fhir\.inbox-failed .*source=lab-secret .*kv boom/.test(l))
        .length,
      1,
    );
  });
});
