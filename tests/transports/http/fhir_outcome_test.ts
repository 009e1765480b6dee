/** Which `Accept` headers get FHIR answers on `POST /query`, and the issue type of a status. */

import assert from "node:assert/strict";
import { codeOf, prefersFhir } from "../../../transports/http/fhir_outcome.ts";

Deno.test("prefersFhir: application/fhir+json named and not outranked by application/json", () => {
  for (
    const yes of [
      "application/fhir+json",
      "Application/FHIR+JSON; fhirVersion=4.0",
      "application/fhir+json, application/json",
      "application/json;q=0.8, application/fhir+json",
      "text/html, application/fhir+json;q=0.9, */*;q=0.1",
    ]
  ) assert.equal(prefersFhir(yes), true, yes);
  for (
    const no of [
      undefined,
      null,
      "",
      "*/*",
      "application/json",
      "application/*",
      "application/json, application/fhir+json;q=0.5",
      "application/fhir+json;q=0",
      "application/fhir+json;q=nope",
      "application/fhir+xml",
    ]
  ) assert.equal(prefersFhir(no), false, String(no));
});

Deno.test("codeOf: the OperationOutcome issue type of each status a query refusal has", () => {
  assert.deepEqual(
    [400, 401, 403, 404, 406, 408, 413, 429, 500, 502, 503, 504].map(codeOf),
    [
      "invalid",
      "login",
      "forbidden",
      "not-found",
      "not-supported",
      "timeout",
      "too-costly",
      "throttled",
      "exception",
      "exception",
      "exception",
      "timeout",
    ],
  );
});
