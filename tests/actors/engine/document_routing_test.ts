/**
 * The routing decisions for X12 and C-CDA without I/O: an MDM carrying a C-CDA in OBX-5 is routed
 * by document type, and an interchange whose ISA15 does not fit the environment gets a TA1 `R`
 * `020` and is failed by the application step with the reason.
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { planStoredDocument } from "../../../actors/engine/document_routing.ts";
import { planHl7Routes } from "../../../actors/engine/hl7_routing.ts";
import { takeInX12 } from "../../../actors/engine/x12_intake.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { parseX12 } from "../../../codecs/x12/mod.ts";
import { CCD, documentOf } from "../../codecs/ccda/fixtures.ts";
import { wrap, X837P_BODY } from "../../codecs/x12/fixtures.ts";

function config(): Config {
  const parsed = parseConfig({
    environments: [{ id: "dev", type: "development" }, { id: "prod", type: "production" }],
    integrations: [
      { id: "docs", environment: "dev", mllp: { port: 0, allowedIps: ["127.0.0.1"] } },
      { id: "claims", environment: "prod", x12: { acknowledge: true } },
    ],
    sftpServer: {
      port: 0,
      hostKey: { env: "HOST_KEY" },
      users: [{ name: "billing", publicKeys: ["ssh-ed25519 AAAA"], integration: "claims" }],
    },
    destinations: [
      { id: "ccd-store", environment: "dev", mllp: { host: "127.0.0.1", port: 1 } },
      { id: "notes", environment: "dev", mllp: { host: "127.0.0.1", port: 2 } },
      {
        id: "payer",
        environment: "prod",
        https: { url: "https://payer.example/x12", verificationToken: { env: "APP_TOKEN" } },
      },
      { id: "payer-mllp", environment: "prod", mllp: { host: "127.0.0.1", port: 3 } },
    ],
    subscriptions: [
      { from: { integration: "docs" }, to: ["ccd-store"], documentTypes: ["CCD"] },
      { from: { integration: "docs" }, to: ["notes"], documentTypes: ["Progress Note"] },
      { from: { integration: "claims" }, to: ["payer", "payer-mllp"], format: "hl7v2" },
    ],
  }, {
    env: (n) => n === "HOST_KEY" || n === "APP_TOKEN" ? "not read here" : undefined,
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

/** An MDM^T02 whose OBX-5 is an ED holding `xml` in Base64. */
function mdm(xml: string): string {
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(xml)));
  return [
    "MSH|^~\\&|EHR|HOSP|ENGINE|CLINIC|20240315123000||MDM^T02^MDM_T02|DOC1|P|2.5.1",
    "EVN|T02|20240315123000",
    "PID|1||123^^^HOSP^MR||DOE^JANE||19800101|F",
    "PV1|1|O",
    "TXA|1|CD|TX|20240315123000||||||||DOC1||||||AU",
    `OBX|1|ED|34133-9^Summary of episode note^LN||^text^xml^Base64^${b64}||||||F`,
  ].join("\r");
}

Deno.test("an MDM with a C-CDA in OBX-5 (ED) is routed by the document's type", () => {
  const c = config();
  const integration = c.integrations[0];
  const plan = (xml: string) =>
    planHl7Routes({ config: c, integration, integrationId: "docs", message: parseHl7(mdm(xml)) })
      .routes.map((r) => r.destination.id);
  assert.deepEqual(plan(CCD), ["ccd-store"]);
  assert.deepEqual(plan(documentOf("2.16.840.1.113883.10.20.22.1.9", "Progress Note")), ["notes"]);
  // Not a C-CDA: no document type, so no subscription by document type takes it.
  assert.deepEqual(plan("<note>hello</note>"), []);
});

Deno.test("ISA15 T in a production integration: TA1 R 020, the file kept whole, FAILED with the reason", async () => {
  const c = config();
  const file = wrap([X837P_BODY, X837P_BODY], { usage: "T", control: 42 });
  const bytes = new TextEncoder().encode(file);
  const taken = takeInX12(bytes, {
    who: "integration claims",
    environment: "prod",
    environmentType: "production",
    settings: { acknowledge: true, contentErrors: "reject" },
  });
  assert.equal(taken.messages.length, 1, "not split: the interchange is rejected");
  const ta1 = parseX12(taken.acknowledgment!).interchanges[0]!.ta1[0]!;
  assert.deepEqual(ta1.elements.slice(4, 6), ["R", "020"]);
  assert.equal(parseX12(taken.acknowledgment!).interchanges[0]!.groups.length, 0, "no 999");

  const planned = await planStoredDocument({
    config: c,
    integrationId: "claims",
    contentType: "application/edi-x12",
    payload: () => Promise.resolve(taken.messages[0]!.bytes),
    planFile: () => assert.fail("an X12 file is planned as X12"),
  });
  assert.equal(planned.ok, false);
  assert.match(
    !planned.ok ? planned.reason : "",
    /ISA15 is "T" \(test\) but integration claims is in environment prod \(production\)/,
  );

  // The same file marked P is split in two and routed.
  const prod = takeInX12(new TextEncoder().encode(wrap([X837P_BODY, X837P_BODY], { usage: "P" })), {
    who: "integration claims",
    environment: "prod",
    environmentType: "production",
    settings: { acknowledge: true, contentErrors: "reject" },
  });
  assert.equal(prod.messages.length, 2);
  const routed = await planStoredDocument({
    config: c,
    integrationId: "claims",
    contentType: "application/edi-x12",
    payload: () => Promise.resolve(prod.messages[1]!.bytes),
    planFile: () => assert.fail("planned as X12"),
  });
  assert.ok(routed.ok);
  assert.deepEqual(routed.plan.routes.map((r) => [r.destination.id, r.format]), [[
    "payer",
    "hl7v2",
  ]]);
  assert.equal(routed.plan.eventType, "837");
});

Deno.test("an X12 set routed to an MLLP destination fails that route at intake with the reason, the HTTPS one is planned", async () => {
  const prod = takeInX12(new TextEncoder().encode(wrap([X837P_BODY], { usage: "P" })), {
    who: "integration claims",
    environment: "prod",
    environmentType: "production",
    settings: { acknowledge: true, contentErrors: "reject" },
  });
  const routed = await planStoredDocument({
    config: config(),
    integrationId: "claims",
    contentType: "application/edi-x12",
    payload: () => Promise.resolve(prod.messages[0]!.bytes),
    planFile: () => assert.fail("planned as X12"),
  });
  assert.ok(routed.ok);
  assert.deepEqual(routed.plan.routes.map((r) => r.destination.id), ["payer"]);
  assert.deepEqual(routed.plan.failures.map((f) => [f.destination.id, f.reason]), [[
    "payer-mllp",
    "destination payer-mllp is MLLP: it carries HL7 v2 only, not X12",
  ]]);
});
