/**
 * `POST /query` keeps the credentials it sent out of everything it hands on: an HTTPS (or FHIR)
 * destination whose error page echoes the request's `Authorization` and `verification-token`
 * headers gets them replaced by `[redacted]` in the API client's answer, the REQUEST and RESPOND
 * logs (and the RESPOND payload shown by `GET /admin/messages/:id`) and the engine's log lines.
 * Real engine, real token endpoint and destination on `Deno.serve`.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

/** The OAuth access token the engine gets and sends as `Authorization: Bearer …`. */
const ACCESS = "acc-7Hq2xV9pL4sN8wR1tY6uZ3";
/** The destination's verification token (sent as `verification-token`). */
const VT = "vt-Qm5Kc8Jd2Fg7Hs4Lp9Nb";
const ADMIN = "adm-3c9f1e7b5d2a48c6";

/** What a careless destination says: the request's credentials, quoted back. */
function echo(r: Request): string {
  return `refused: authorization=${r.headers.get("authorization")} ` +
    `verification-token=${r.headers.get("verification-token")}`;
}

Deno.test("POST /query redacts the credentials a destination echoes from the answer, the logs and the stored RESPOND", async (t) => {
  await using dir = await tempDir({ prefix: "query-redaction-" });
  const peer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (r) => {
    const path = new URL(r.url).pathname;
    await r.body?.cancel();
    if (path === "/token") {
      return Response.json({ access_token: ACCESS, token_type: "Bearer", expires_in: 3600 });
    }
    // The plain HTTPS destination: a 500 error page quoting the request.
    if (path === "/api") return new Response(echo(r), { status: 500 });
    // The same, with a 2xx: the echo reaches the client as the answer itself.
    if (path === "/ok") {
      return Response.json({ Meta: { DataModel: "PatientSearch" }, Note: echo(r) });
    }
    // The FHIR server: an OperationOutcome quoting the request, with a 500.
    if (path === "/fhir/Patient") {
      return Response.json({
        resourceType: "OperationOutcome",
        issue: [{ severity: "error", code: "security", diagnostics: echo(r) }],
      }, { status: 500 });
    }
    return new Response("no such path", { status: 404 });
  });
  const base = `http://127.0.0.1:${peer.addr.port}`;
  const auth = {
    type: "oauth2",
    tokenUrl: `${base}/token`,
    clientId: "engine",
    clientSecret: { env: "OAUTH_SECRET" },
  };
  const https = (path: string, extra: Record<string, unknown> = {}) => ({
    url: `${base}${path}`,
    verificationToken: { env: "VT" },
    auth,
    ...extra,
  });
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    admin: { token: { env: "ADMIN" } },
    limits: { queryTimeoutSeconds: 5 },
    environments: [{ id: "dev", type: "development" }],
    sources: [
      { id: "app", environment: "dev", clientId: "app", auth: { secret: { env: "APP_SECRET" } } },
    ],
    destinations: [
      { id: "api", environment: "dev", https: https("/api") },
      { id: "ok", environment: "dev", https: https("/ok") },
      { id: "fhir", environment: "dev", https: https("/fhir", { fhir: {} }) },
    ],
    subscriptions: [{ from: { source: "app" }, to: ["api", "ok", "fhir"] }],
  }, {
    env: (n) => ({ APP_SECRET: "app-s3cret", VT, OAUTH_SECRET: "oauth-s3cret", ADMIN: ADMIN })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config, { httpSender: new FetchSender(), http: true });
  const api = apiOf(e);
  try {
    const token = await api.token("app", "app-s3cret");
    const query = async (destination: string, accept = "application/json") => {
      const res = await fetch(`${api.base}/query`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept,
        },
        body: JSON.stringify({
          Meta: {
            DataModel: "PatientSearch",
            EventType: "Query",
            Destinations: [{ ID: destination }],
          },
          Patient: { Demographics: { LastName: "BIXBY" } },
        }),
      });
      return { status: res.status, text: await res.text() };
    };
    /** Every text the query left: the REQUEST and RESPOND logs and the payloads shown. */
    const stored = async (logIds: string[]) => {
      const texts: string[] = [];
      for (const id of logIds) {
        const log = await e.engine.store.getLog(id);
        assert.ok(log, `log ${id}`);
        texts.push(JSON.stringify(log));
        const view = await fetch(`${api.base}/admin/messages/${log.messageId}`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        });
        assert.equal(view.status, 200);
        texts.push(await view.text());
      }
      return texts.join("\n");
    };
    const assertClean = (where: string, text: string) => {
      assert.ok(!text.includes(ACCESS), `${where} holds the access token: ${text}`);
      assert.ok(!text.includes(VT), `${where} holds the verification token: ${text}`);
    };

    await t.step("an HTTPS destination's 500 echoing the credentials", async () => {
      const before = e.log.lines.length;
      const res = await query("api");
      assert.equal(res.status, 200, res.text);
      assertClean("the answer", res.text);
      const answer = JSON.parse(res.text);
      assert.equal(
        answer.Meta.Errors[0].Text,
        "destination api answered HTTP 500: refused: authorization=[redacted] " +
          "verification-token=[redacted]",
      );
      // The query's logs, found through the log line that says it is over.
      const done = e.log.lines.slice(before).filter((l) => / query\.done /.test(l));
      assert.equal(done.length, 1, done.join("\n"));
      assert.match(done[0]!, /reason=.*authorization=\[redacted\] verification-token=\[redacted\]/);
      assertClean("the log lines", e.log.lines.slice(before).join("\n"));
      const request = (await e.engine.store.listLogs({ destinationId: "api", type: "REQUEST" }))
        .logs
        .find((l) => l.type === "REQUEST");
      assert.ok(request);
      const logs = await e.engine.store.logsOfMessage(request.messageId);
      assert.deepEqual(logs.map((l) => l.type).sort(), ["REQUEST", "RESPOND"]);
      const text = await stored(logs.map((l) => l.id));
      assertClean("the stored logs and payloads", text);
      assert.match(text, /authorization=\[redacted\]/);
    });

    await t.step("a 2xx answer echoing the credentials reaches the client redacted", async () => {
      const before = e.log.lines.length;
      const res = await query("ok");
      assert.equal(res.status, 200, res.text);
      assertClean("the answer", res.text);
      assert.equal(
        JSON.parse(res.text).Note,
        "refused: authorization=[redacted] verification-token=[redacted]",
      );
      assertClean("the log lines", e.log.lines.slice(before).join("\n"));
    });

    await t.step("a FHIR server's OperationOutcome echoing the credentials", async () => {
      for (const accept of ["application/json", "application/fhir+json"]) {
        const before = e.log.lines.length;
        const res = await query("fhir", accept);
        assertClean(`the answer (${accept})`, res.text);
        assert.match(res.text, /authorization=\[redacted\] verification-token=\[redacted\]/);
        const lines = e.log.lines.slice(before).join("\n");
        assertClean("the log lines", lines);
        assert.match(lines, / query\.done .*authorization=\[redacted\]/);
      }
      const requests = (await e.engine.store.listLogs({ destinationId: "fhir", type: "REQUEST" }))
        .logs
        .filter((l) => l.type === "REQUEST");
      assert.equal(requests.length, 2);
      for (const request of requests) {
        const logs = await e.engine.store.logsOfMessage(request.messageId);
        const text = await stored(logs.map((l) => l.id));
        assertClean("the stored logs and payloads", text);
        assert.match(text, /authorization=\[redacted\]/);
      }
    });
  } finally {
    await e.close();
    await peer.shutdown();
  }
});
