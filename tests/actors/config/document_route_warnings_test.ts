/**
 * `check` warns (never refuses) about a subscription that may route X12 or C-CDA to an MLLP
 * destination, which carries HL7 v2 only: the config is valid, the warning names the
 * subscription, the destination and the `dataModels` that keep documents away.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { runMain } from "../../helpers/run_main.ts";
import { tempDir } from "../../helpers/temp.ts";

const BASE = {
  environments: [{ id: "dev", type: "development" }],
  sources: [{
    id: "clinic",
    environment: "dev",
    clientId: "clinic",
    auth: { secret: { file: "secret.txt" } },
  }],
  integrations: [
    { id: "ward-feed", environment: "dev", mllp: { port: 2575, allowedIps: ["127.0.0.1"] } },
    {
      id: "files",
      environment: "dev",
      sftp: {
        host: "sftp.example",
        user: "u",
        keys: [{ privateKey: { file: "secret.txt" } }],
        hostKeyFingerprint: `SHA256:${"A".repeat(43)}`,
        folder: "in",
      },
    },
  ],
  destinations: [
    { id: "ward", environment: "dev", mllp: { host: "127.0.0.1", port: 2576 } },
    {
      id: "app",
      environment: "dev",
      https: { url: "http://127.0.0.1:9/hook", verificationToken: { file: "secret.txt" } },
    },
  ],
};

function warningsOf(subscriptions: unknown[]): string[] {
  const r = parseConfig({ ...BASE, subscriptions }, {
    env: () => undefined,
    readFile: () => "not read here",
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return (r.warnings ?? []).map((w) => w.message);
}

const WARNING = (sub: string, what: string) =>
  `${sub} may route ${what} to destination "ward", which is MLLP: it carries HL7 v2 only, so ` +
  `each such document would fail that route; add "dataModels": ["…"] (the HL7 data models it ` +
  `is for, e.g. ["PatientAdmin"]) to keep X12 and C-CDA away from it`;

Deno.test("a subscription from an API source or an SFTP integration that may select X12 or C-CDA toward an MLLP destination is warned about, not refused; none when documents cannot reach it", () => {
  assert.deepEqual(
    warningsOf([{ id: "to-ward", from: { source: "clinic" }, to: ["app", "ward"] }]),
    [WARNING(`subscription "to-ward"`, "X12 and C-CDA")],
  );
  assert.deepEqual(
    warningsOf([{ from: { integration: "files" }, to: ["ward"], documentTypes: ["CCD"] }]),
    [WARNING("subscription 1", "C-CDA")],
  );
  assert.deepEqual(
    warningsOf([{ from: { source: "clinic" }, to: ["ward"], x12: { transactionSets: ["837"] } }]),
    [WARNING("subscription 1", "X12")],
  );
  // None when dataModels keeps documents away, the sender is an MLLP listener, the destination
  // is not MLLP, the event types are HL7 ones, or the subscription blocks all.
  assert.deepEqual(
    warningsOf([
      { from: { source: "clinic" }, to: ["ward"], dataModels: ["PatientAdmin"] },
      { from: { integration: "ward-feed" }, to: ["ward"] },
      { from: { integration: "files" }, to: ["app"] },
      { from: { source: "clinic" }, to: ["ward"], eventTypes: ["ADT^A01"] },
      { from: { source: "clinic" }, to: ["ward"], filter: { blockAll: true } },
    ]),
    [],
  );
});

Deno.test("main.ts check prints the warning and still says the config is valid (exit 0)", async () => {
  await using dir = await tempDir({ prefix: "check-doc-mllp-" });
  const file = `${dir.path}/config.json`;
  // Secrets as files only the owner reads: no permission warning besides the one tested.
  await Deno.writeTextFile(`${dir.path}/secret.txt`, "s3cret", { mode: 0o600 });
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      ...BASE,
      kv: { path: `${dir.path}/engine.kv` },
      subscriptions: [{ id: "to-ward", from: { source: "clinic" }, to: ["ward"] }],
    }),
  );
  const r = await runMain(["check", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr.trim(),
    `${file}: warning: ${WARNING(`subscription "to-ward"`, "X12 and C-CDA")}`,
  );
  assert.match(r.stdout, /: valid \(2 integrations, 2 destinations, 1 subscription\)/);
});
