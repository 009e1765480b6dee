/** What a FHIR server's answers become in an attempt's reason (actors/https_out/fhir_answer.ts). */

import assert from "node:assert/strict";
import {
  describeFhirFailure,
  fhirTarget,
  outcomeIssues,
  processMessageFailure,
} from "../../../actors/https_out/fhir_answer.ts";
import type { HttpResponse } from "../../../actors/https_out/http_client.ts";

function answer(status: number, body: unknown): HttpResponse {
  return {
    status,
    headers: new Headers({ "content-type": "application/fhir+json" }),
    body: typeof body === "string" ? body : JSON.stringify(body),
    truncated: false,
  } as HttpResponse;
}

Deno.test("fhirTarget: a message bundle goes to $process-message, a transaction to the base", () => {
  assert.equal(
    fhirTarget("https://f.example/R4/", "message"),
    "https://f.example/R4/$process-message",
  );
  assert.equal(fhirTarget("https://f.example/R4", "transaction"), "https://f.example/R4");
});

Deno.test("an OperationOutcome's issues are listed with severity, code, location and text", () => {
  const body = {
    resourceType: "OperationOutcome",
    issue: [
      {
        severity: "error",
        code: "invalid",
        expression: ["Patient.birthDate"],
        details: { text: "Invalid date" },
      },
      { severity: "warning", code: "informational", diagnostics: "unknown profile" },
    ],
  };
  assert.equal(
    describeFhirFailure(answer(400, body)),
    "HTTP 400: OperationOutcome: error invalid at Patient.birthDate: Invalid date; " +
      "warning informational: unknown profile",
  );
  assert.equal(describeFhirFailure(answer(502, "<html>bad gateway</html>")), undefined);
  assert.equal(outcomeIssues(JSON.stringify(body), 20), "error invalid at Pat…");
});

Deno.test("a 200 from $process-message with an error in its MessageHeader is a failure", () => {
  const bundle = (code: string) => ({
    resourceType: "Bundle",
    type: "message",
    entry: [
      {
        resource: {
          resourceType: "MessageHeader",
          response: { identifier: "x", code, details: { reference: "urn:uuid:oo" } },
        },
      },
      {
        fullUrl: "urn:uuid:oo",
        resource: {
          resourceType: "OperationOutcome",
          issue: [{ severity: "error", code: "processing", diagnostics: "no such ward" }],
        },
      },
    ],
  });
  assert.equal(processMessageFailure(answer(200, bundle("ok"))), undefined);
  assert.equal(
    processMessageFailure(answer(200, bundle("fatal-error"))),
    "HTTP 200: MessageHeader.response.code fatal-error: error processing: no such ward",
  );
  assert.equal(
    processMessageFailure(answer(200, {
      resourceType: "OperationOutcome",
      issue: [{ severity: "fatal", code: "exception", diagnostics: "down" }],
    })),
    "HTTP 200: OperationOutcome: fatal exception: down",
  );
  // Success bodies that say nothing, or an information outcome, are success.
  assert.equal(processMessageFailure(answer(200, "")), undefined);
  assert.equal(
    processMessageFailure(answer(200, {
      resourceType: "OperationOutcome",
      issue: [{ severity: "information", code: "informational" }],
    })),
    undefined,
  );
});
