/**
 * `validateFhirBundleAsync` shares the thread: while Bundles of 1,000 US Core patients are
 * validated, one or several at once, a timer on the same thread keeps firing (no gap of 200 ms
 * spent working, in one of up to 3 runs: see {@link timed} and {@link assertHeldBelow}), and each
 * answer is the synchronous validation's.
 */

import { deepStrictEqual, ok } from "node:assert/strict";
import { hl7ToFhir } from "../../../codecs/fhir/mod.ts";
import {
  loadDefinitions,
  validateFhirBundle,
  validateFhirBundleAsync,
} from "../../../codecs/fhir/validate.ts";
import { assertHeldBelow } from "../../helpers/thread_hold.ts";
import { ADT_A01, ZONE } from "../datamodel/fixtures.ts";
import { timed } from "./thread_timer.ts";

type Json = Record<string, unknown>;

/** The ADT^A01 message Bundle with copies of its Patient up to `total` entries. */
function bundleOf(total: number, faultAt?: number): Json & { entry: Json[] } {
  const b = JSON.parse(JSON.stringify(hl7ToFhir(ADT_A01, { timeZone: ZONE })));
  const patient = b.entry.find((e: Json) => (e.resource as Json).resourceType === "Patient");
  for (let i = b.entry.length; i < total; i++) {
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
    const resource = {
      ...patient.resource,
      id,
      ...(i === faultAt ? { birthDate: "1980-02-30x" } : {}),
    };
    b.entry.push({ fullUrl: `urn:uuid:${id}`, resource });
  }
  return b;
}

for (const count of [1, 3]) {
  Deno.test(`${count} Bundle(s) of 1,000 entries validated at once leave a timer firing (no gap of 200 ms), with the synchronous answers`, async () => {
    loadDefinitions(); // Seconds, once per process: not what is measured.
    const bundles = Array.from({ length: count }, (_, n) => bundleOf(1000, 500 + n));
    const want = bundles.map((b) => validateFhirBundle(structuredClone(b)));
    for (const [n, issues] of want.entries()) {
      ok(issues.some((i) => i.path === `Bundle.entry[${500 + n}].resource.birthDate`), "the fault");
    }
    // The validation leaves the Bundles as they were: another run validates them again.
    let ticks = 0;
    await assertHeldBelow({
      // With its pauses, 10-25 ms at once here; validated without a pause, one such Bundle holds
      // the thread 1.1 s (three 3.3 s) in every run: 200 ms leaves room for a slower machine.
      boundMs: 200,
      what: "the timer's thread",
      run: async () => {
        const run = await timed(() => Promise.all(bundles.map((b) => validateFhirBundleAsync(b))));
        deepStrictEqual(run.value, want);
        ticks = run.ticks;
        return {
          held: run.held,
          detail: `${run.longest.toFixed(0)} ms with the machine's, ${run.ticks} ticks`,
        };
      },
    });
    // Of the run that passed.
    ok(ticks > 20, `${ticks} ticks: too short to tell`);
  });
}
