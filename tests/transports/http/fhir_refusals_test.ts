/**
 * How the FHIR routes refuse what they cannot take, as `POST /endpoint` does: a compressed body
 * gets a `415` OperationOutcome naming its `Content-Encoding` (not a later "not valid UTF-8"),
 * and every refusal below 500 leaves one bounded log line (`fhir.invalid`, or its own event)
 * naming the source and the problem, never the body.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { V2_EVENT_SYSTEM } from "../../../codecs/fhir/mod.ts";
import { apiOf } from "../../helpers/api.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { waitFor } from "../../helpers/net.ts";
import { tempDir } from "../../helpers/temp.ts";

/** A served engine with one API source, a token for it, and a poster of FHIR bodies. */
interface Fhir {
  e: TestEngine;
  post(
    path: string,
    body: BodyInit,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; text: string }>;
  /** The lines matching `event` logged since line `from`. */
  linesOf(event: string, from: number): string[];
}

async function withFhir(fn: (f: Fhir) => Promise<void>): Promise<void> {
  await using dir = await tempDir({ prefix: "fhir-refusals-" });
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    sources: [{
      id: "app",
      environment: "dev",
      clientId: "app-client",
      auth: { secret: { env: "APP_SECRET" } },
    }],
  }, {
    env: (n) => ({ APP_SECRET: "app-s3cret" })[n],
    readFile: () => new Error("none"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config, { http: true });
  try {
    const api = apiOf(e);
    const token = await api.token("app-client", "app-s3cret");
    await fn({
      e,
      async post(path, body, headers = {}) {
        const r = await fetch(`${api.base}/fhir/R4/${path}`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/fhir+json",
            ...headers,
          },
          body,
        });
        return { status: r.status, headers: r.headers, text: await r.text() };
      },
      linesOf: (event, from) =>
        e.log.lines.slice(from).filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`)),
    });
  } finally {
    await e.close();
  }
}

/** The OperationOutcome of a FHIR answer. */
function outcomeOf(r: { headers: Headers; text: string }) {
  assert.equal(r.headers.get("content-type"), "application/fhir+json");
  const b = JSON.parse(r.text);
  assert.equal(b.resourceType, "OperationOutcome");
  return b as {
    issue: { severity: string; code: string; diagnostics: string; expression?: string[] }[];
  };
}

Deno.test("FHIR routes answer 415 OperationOutcome naming a Content-Encoding they do not take, and log it; identity is read as it is", async () => {
  await withFhir(async (f) => {
    const gzipped = await new Response(
      new Blob(['{"resourceType":"Bundle","type":"message"}']).stream()
        .pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    // The log quotes a route with a `$` in it.
    const routes: [string, string][] = [
      ["$process-message", String.raw`"/fhir/R4/\$process-message"`],
      ["Bundle", "/fhir/R4/Bundle"],
    ];
    for (const [path, route] of routes) {
      const from = f.e.log.lines.length;
      const r = await f.post(path, gzipped, { "content-encoding": "gzip" });
      assert.equal(r.status, 415, r.text);
      assert.deepEqual(outcomeOf(r), {
        resourceType: "OperationOutcome",
        issue: [{
          severity: "error",
          code: "invalid",
          diagnostics: "Content-Encoding gzip is not supported; send the body uncompressed",
        }],
      });
      const lines = f.linesOf("fhir.invalid", from);
      assert.equal(lines.length, 1, f.e.log.lines.slice(from).join("\n"));
      assert.match(
        lines[0]!,
        new RegExp(
          String.raw`WARN +fhir\.invalid .*source=app route=${route} status=415 ` +
            String
              .raw`problem="Content-Encoding gzip is not supported; send the body uncompressed" issues=1$`,
        ),
      );
    }
    // identity is no encoding at all: the body is read as it is (and refused for what it says).
    const plain = await f.post("Bundle", "{}", { "content-encoding": "identity" });
    assert.equal(plain.status, 400, plain.text);
    assert.ok(
      !outcomeOf(plain).issue.some((i) => /Content-Encoding|UTF-8/.test(i.diagnostics)),
      plain.text,
    );
  });
});

Deno.test("FHIR routes log a bad-JSON 400 once, with the parser's problem and not the body, bounded with a 100 KB string in it", async (t) => {
  await withFhir(async (f) => {
    await t.step("invalid JSON: one fhir.invalid line naming where it broke", async () => {
      const from = f.e.log.lines.length;
      const r = await f.post("$process-message", '{"resourceType": "DOE^JANE", oops}');
      assert.equal(r.status, 400, r.text);
      assert.match(outcomeOf(r).issue[0]!.diagnostics, /^invalid JSON at line 1, column 30/);
      const lines = f.linesOf("fhir.invalid", from);
      assert.equal(lines.length, 1, f.e.log.lines.slice(from).join("\n"));
      assert.match(
        lines[0]!,
        /WARN +fhir\.invalid .*source=app route="\/fhir\/R4\/\$process-message" status=400 problem="invalid JSON at line 1, column 30 \(character 29\): expected a double-quoted property name, found \\"o\\"" issues=1$/,
      );
      assert.ok(!lines[0]!.includes("DOE^JANE"), lines[0]);
    });

    await t.step("a 100 KB string before the error stays out of the line", async () => {
      const from = f.e.log.lines.length;
      const huge = "x".repeat(100_000);
      const r = await f.post("Bundle", `{"resourceType": "Bundle", "id": "${huge}", oops}`);
      assert.equal(r.status, 400);
      const lines = f.linesOf("fhir.invalid", from);
      assert.equal(lines.length, 1, `${f.e.log.lines.slice(from).length} lines`);
      assert.ok(lines[0]!.length < 1_000, `a line of ${lines[0]!.length} characters`);
      assert.match(lines[0]!, /status=400 problem="invalid JSON at line 1, column 100038 /);
      assert.ok(!lines[0]!.includes("xxxxxxxxxx"), "the line quotes the body");
    });

    await t.step("a 100 KB property name the R4 validation quotes is cut in the line", async () => {
      const from = f.e.log.lines.length;
      const name = "z".repeat(100_000);
      const r = await f.post(
        "Bundle",
        JSON.stringify({
          resourceType: "Bundle",
          type: "message",
          entry: [{
            fullUrl: "urn:uuid:0c3a3c1e-0000-4000-8000-000000000001",
            resource: {
              resourceType: "MessageHeader",
              [name]: true,
              eventCoding: { system: V2_EVENT_SYSTEM, code: "A28" },
              source: { endpoint: "https://app.example.org" },
            },
          }],
        }),
      );
      assert.equal(r.status, 400);
      assert.ok(outcomeOf(r).issue.length >= 1);
      const lines = f.linesOf("fhir.invalid", from);
      assert.equal(lines.length, 1, `${f.e.log.lines.slice(from).length} lines`);
      assert.ok(lines[0]!.length < 1_000, `a line of ${lines[0]!.length} characters`);
      assert.match(
        lines[0]!,
        /status=400 problem="Bundle\.entry\[0\]\.resource\.z+… \(\d+ characters\)" issues=\d+$/,
      );
    });
  });
});

Deno.test("FHIR routes log every other refusal below 500 once: media type (cut), nesting depth, method, the inbox's data-model problems", async (t) => {
  await withFhir(async (f) => {
    await t.step("a huge Content-Type is cut in the answer and the line", async () => {
      const from = f.e.log.lines.length;
      const r = await f.post("Bundle", "{}", { "content-type": `text/${"y".repeat(10_000)}` });
      assert.equal(r.status, 415);
      assert.ok(r.text.length < 1_000, `an answer of ${r.text.length} characters`);
      assert.match(outcomeOf(r).issue[0]!.diagnostics, /… \(10005 characters\)"$/);
      const lines = f.linesOf("fhir.invalid", from);
      assert.equal(lines.length, 1);
      assert.ok(lines[0]!.length < 1_000, `a line of ${lines[0]!.length} characters`);
      assert.match(lines[0]!, /status=415 problem="Content-Type must be application\/fhir\+json/);
    });

    await t.step("JSON nested past the limit: fhir.too-deep", async () => {
      const from = f.e.log.lines.length;
      const r = await f.post("Bundle", `${"[".repeat(100)}${"]".repeat(100)}`);
      assert.equal(r.status, 400);
      assert.match(outcomeOf(r).issue[0]!.diagnostics, /nested more than 64 levels deep/);
      const lines = f.e.log.lines.slice(from);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0]!, /WARN +fhir\.too-deep .*source=app limit=64$/);
    });

    await t.step("a GET: 405 with Allow, and one line", async () => {
      const from = f.e.log.lines.length;
      const r = await fetch(`${apiOf(f.e).base}/fhir/R4/Bundle`);
      assert.equal(r.status, 405);
      assert.equal(r.headers.get("allow"), "POST");
      // Read whole (not cancelled), so the connection goes back idle and shutdown need not wait.
      assert.equal(
        outcomeOf({ headers: r.headers, text: await r.text() }).issue[0]?.code,
        "invalid",
      );
      await waitFor("the 405 logged", () => f.linesOf("fhir.invalid", from).length > 0);
      const lines = f.linesOf("fhir.invalid", from);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /route=\/fhir\/R4\/Bundle status=405 problem="use POST, not GET"/);
    });

    await t.step("the inbox's refusal: its first problem located by FHIRPath", async () => {
      const from = f.e.log.lines.length;
      const r = await f.post(
        "Bundle",
        JSON.stringify({
          resourceType: "Bundle",
          type: "message",
          entry: [
            {
              fullUrl: "urn:uuid:0c3a3c1e-0000-4000-8000-000000000001",
              resource: {
                resourceType: "MessageHeader",
                eventCoding: { system: V2_EVENT_SYSTEM, code: "A28" },
                source: { endpoint: "https://app.example.org" },
              },
            },
            {
              fullUrl: "urn:uuid:0c3a3c1e-0000-4000-8000-000000000002",
              resource: { resourceType: "Patient", name: [{ family: "NOID" }] },
            },
          ],
        }),
      );
      assert.equal(r.status, 400, r.text);
      const lines = f.linesOf("fhir.invalid", from);
      assert.equal(lines.length, 1, f.e.log.lines.slice(from).join("\n"));
      assert.match(
        lines[0]!,
        /source=app route=\/fhir\/R4\/Bundle status=400 problem="Bundle\.entry\[1\]\.resource\.identifier: /,
      );
      assert.ok(!lines[0]!.includes("NOID"), lines[0]);
    });
  });
});
