/**
 * The Bundle validation, an entry at a time and with each profile parsed once, answers what one
 * run over the whole Bundle with the profile parsed per resource answered (validate_oracle.ts):
 * the same issues in the same order, for every fixture, for hand-made faults at each place the
 * pieces are put back together, and for random damage; the async form answers the same.
 */

import { deepStrictEqual, ok } from "node:assert/strict";
import { hl7ToFhir, V2_EVENT_SYSTEM } from "../../../codecs/fhir/mod.ts";
import {
  validateFhirBundle,
  validateFhirBundleAsync,
  validateFhirResource,
} from "../../../codecs/fhir/validate.ts";
import { ADT_A01, FIXTURES, ZONE } from "../datamodel/fixtures.ts";
import { profilesByUrl } from "../../../codecs/fhir/profiles.ts";
import { oldValidateBundle, oldValidateResource } from "./validate_oracle.ts";

type Json = Record<string, unknown>;
const US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient";

function bundleOf(text: string): Json {
  return JSON.parse(JSON.stringify(hl7ToFhir(text, { timeZone: ZONE })));
}

function entriesOf(b: Json): Json[] {
  return b.entry as Json[];
}

function resourceOf(b: Json, type: string): Json {
  return entriesOf(b).map((e) => e.resource as Json).find((r) => r?.resourceType === type)!;
}

/** The answer of `fn`, or what it threw (the validator fails on some damaged input). */
async function outcome<T>(fn: () => T | Promise<T>): Promise<T | { threw: string }> {
  try {
    return await fn();
  } catch (e) {
    return { threw: String(e) };
  }
}

/** Asserts both forms of the new validator answer what the old one did; returns the answer. */
async function same(name: string, b: unknown) {
  const want = await outcome(() => oldValidateBundle(structuredClone(b)));
  deepStrictEqual(await outcome(() => validateFhirBundle(structuredClone(b))), want, name);
  deepStrictEqual(
    await outcome(() => validateFhirBundleAsync(structuredClone(b), { sliceMs: 0 })),
    want,
    name,
  );
  return Array.isArray(want) ? want : [want];
}

/** Faults at each place an entry's issues, the Bundle's, and the nulls go back together. */
const FAULTS: Record<string, (b: Json) => void> = {
  "as made": () => {},
  "a bad birth date and an unknown property": (b) => {
    Object.assign(resourceOf(b, "Patient"), { birthDate: "1980-02-30x", nickname: "Zo" });
  },
  "nulls before, inside and after the entries": (b) => {
    const copy = { timestamp: null, ...b, signature: null };
    for (const k of Object.keys(b)) delete b[k];
    Object.assign(b, copy);
    resourceOf(b, "Patient").gender = null;
    entriesOf(b).splice(1, 0, null as unknown as Json);
  },
  "an entry with no resource, another with a version-specific fullUrl": (b) => {
    entriesOf(b).push({ fullUrl: "urn:uuid:1" }, {
      fullUrl: "http://x.org/fhir/Patient/1/_history/2",
      resource: { resourceType: "Basic", code: { text: "x" } },
    });
  },
  "the same fullUrl twice, then twice with different versions": (b) => {
    const e = entriesOf(b);
    e.push(structuredClone(e[1]!));
    const v = (id: string) => ({
      resourceType: "Basic",
      code: { text: "x" },
      meta: { versionId: id },
    });
    e.push({ fullUrl: "urn:uuid:9", resource: v("1") }, {
      fullUrl: "urn:uuid:9",
      resource: v("2"),
    });
  },
  "the MessageHeader not first": (b) => entriesOf(b).reverse(),
  "a document without its Composition": (b) => {
    Object.assign(b, { type: "document", identifier: { system: "urn:x", value: "1" } });
  },
  "an unknown resource type in an entry": (b) => {
    entriesOf(b).splice(2, 0, { resource: { resourceType: "Nonsense", id: "1" } });
  },
  "an unknown resource type contained in a resource": (b) => {
    resourceOf(b, "Patient").contained = [{ resourceType: "Nonsense" }];
  },
  "unknown properties on the Bundle, an entry and a bad signature": (b) => {
    Object.assign(b, { foo: 1, signature: { type: "x" } });
    Object.assign(entriesOf(b)[1]!, { bar: true, extension: [{ url: 3 }] });
  },
  "entries with a request and a search in a message": (b) => {
    Object.assign(entriesOf(b)[1]!, { request: { method: "GET", url: "Patient" } });
    Object.assign(entriesOf(b)[2]!, { search: { mode: "match" }, response: {} });
  },
  "a reference to a contained resource (no issue)": (b) => {
    const p = resourceOf(b, "Patient");
    p.contained = [{ resourceType: "Organization", id: "org", name: "O" }];
    p.managingOrganization = { reference: "#org" };
    resourceOf(b, "Encounter").serviceProvider = { reference: "#org" };
  },
  "a contained on the Bundle (one run)": (b) => {
    b.contained = [{ resourceType: "Organization", id: "org" }];
    resourceOf(b, "Encounter").serviceProvider = { reference: "#org" };
  },
  "an _entry on the Bundle (one run)": (b) => {
    b._entry = [null, { id: "e" }];
  },
  "empty and primitive entries, and resources that are no resources": (b) => {
    entriesOf(b).push({}, 7 as unknown as Json, { resource: [{ resourceType: "Basic" }] }, {
      resource: "text",
    }, { resource: { id: "no-type" } });
  },
  "entries that are no objects": (b) => {
    b.entry = [{}, "x"];
  },
  "a patient without what US Core requires": (b) => {
    const p = resourceOf(b, "Patient");
    delete p.identifier;
    delete p.name;
    delete p.gender;
  },
  "profiles claimed by the wrong type, unknown, and by a patient with a contained patient": (b) => {
    const p = resourceOf(b, "Patient");
    resourceOf(b, "Encounter").meta = { profile: [US_CORE_PATIENT, "http://x.org/unknown"] };
    p.contained = [{ resourceType: "Patient", id: "twin", gender: "nope" }];
  },
  "a total and a response on a message": (b) => {
    b.total = 3;
    Object.assign(entriesOf(b)[1]!, { response: { status: "200" } });
  },
  "a first resource that is two (an invariant fails to run)": (b) => {
    entriesOf(b)[0]!.resource = [{ resourceType: "Basic" }, { resourceType: "Basic" }];
  },
  "primitive extensions on fullUrl, version ids and entry parts": (b) => {
    const e = entriesOf(b);
    Object.assign(e[1]!, { _fullUrl: { id: "u" }, _request: { id: "r" } });
    (e[1]!.resource as Json).meta = { versionId: "1", _versionId: { id: "v" } };
  },
};

for (const [fixture, text] of Object.entries(FIXTURES)) {
  Deno.test(`${fixture}: validated an entry at a time, the Bundle's answer is the one-run answer`, async () => {
    deepStrictEqual(await same(fixture, bundleOf(text)), []);
  });
}

for (const [fault, damage] of Object.entries(FAULTS)) {
  Deno.test(`ADT^A01 with ${fault}: the same issues in the same order as one run`, async () => {
    const b = bundleOf(ADT_A01);
    damage(b);
    const issues = await same(fault, b);
    if (!/as made|no issue|one run/.test(fault)) ok(issues.length > 0, fault);
  });
}

/** A small seeded PRNG (mulberry32), so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every object and array under `v`, with `v` itself. */
function containers(v: unknown, out: (Json | unknown[])[] = []): (Json | unknown[])[] {
  if (typeof v !== "object" || v === null) return out;
  out.push(v as Json);
  for (const c of Object.values(v)) containers(c, out);
  return out;
}

const ODD = [null, "", "x", 0, -1, 1.5, true, {}, [], [null], { resourceType: "Basic" }];

Deno.test("random damage to every fixture: the same issues in the same order as one run", async () => {
  const bundles = Object.values(FIXTURES).map(bundleOf);
  for (let seed = 1; seed <= 120; seed++) {
    const rand = prng(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
    const b = structuredClone(pick(bundles));
    for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) {
      const at = pick(containers(b));
      const keys = Object.keys(at);
      const key = keys.length > 0 && rand() < 0.8 ? pick(keys) : "zz";
      const r = rand();
      const put = (v: unknown) => ((at as Record<string, unknown>)[key] = v);
      if (r < 0.3 && Array.isArray(at)) at.splice(Number(key) || 0, 1);
      else if (r < 0.3) delete (at as Record<string, unknown>)[key];
      else if (r < 0.7) put(structuredClone(pick(ODD)));
      else if (Array.isArray(at)) at.push(structuredClone(pick(at.length > 0 ? at : ODD)));
      else put(structuredClone(pick(containers(b))));
    }
    await same(`seed ${seed}`, JSON.parse(JSON.stringify(b)));
  }
});

Deno.test("a US Core patient, damaged in many ways, gets the issues validateResource with the profile gives", () => {
  const p = resourceOf(bundleOf(ADT_A01), "Patient");
  const cases: Json[] = [
    p,
    { ...p, identifier: undefined },
    { ...p, name: [{ use: "official" }] },
    { ...p, gender: "x", birthDate: "2020-13-01" },
    { ...p, extension: [{ url: "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race" }] },
    { ...p, extension: [{ url: "http://x.org", valueString: 1 }], telecom: [{ system: "nope" }] },
    { ...p, deceasedBoolean: "yes", multipleBirthInteger: 1.5, communication: [{}] },
    { ...p, contact: [{ name: { family: 1 } }], link: [{ other: { reference: "#nope" } }] },
    { ...p, contained: [{ resourceType: "Patient", id: "x", gender: "x" }] },
    { ...p, address: [{ line: [null], state: 5 }], _birthDate: { extension: [{ url: "u" }] } },
    { ...p, resourceType: "Practitioner" },
  ].map((c) => JSON.parse(JSON.stringify(c)));
  for (const c of cases) {
    deepStrictEqual(validateFhirResource(c, "X"), oldValidateResource(c, "X"), JSON.stringify(c));
  }
  ok(validateFhirResource(cases[1]!).length > 0, "a patient without identifier is refused");
});

Deno.test("resources claiming the other US Core profiles get the issues validateResource with the profile gives", () => {
  const base = "http://hl7.org/fhir/us/core/StructureDefinition/";
  const meta = (name: string) => ({ profile: [`${base}${name}`] });
  const request = {
    resourceType: "MedicationRequest",
    meta: meta("us-core-medicationrequest"),
    status: "active",
    intent: "order",
    medicationCodeableConcept: { text: "aspirin" },
    subject: { reference: "Patient/1" },
    requester: { reference: "Practitioner/1" },
    authoredOn: "2024-01-01",
  };
  const device = {
    resourceType: "Device",
    meta: meta("us-core-implantable-device"),
    type: { text: "stent" },
    patient: { reference: "Patient/1" },
  };
  const pressure = {
    resourceType: "Observation",
    meta: meta("us-core-blood-pressure"),
    status: "final",
    category: [{ coding: [{ system: "x", code: "vital-signs" }] }],
    code: { coding: [{ system: "http://loinc.org", code: "85354-9" }] },
    subject: { reference: "Patient/1" },
    effectiveDateTime: "2024-01-01",
  };
  const cases: Json[] = [
    request,
    { ...request, status: 7, dosageInstruction: [{ text: 1, timing: { repeat: "x" } }] },
    { ...request, requester: undefined, medicationCodeableConcept: undefined },
    device,
    { ...device, patient: undefined, udiCarrier: [{ deviceIdentifier: 5 }] },
    pressure,
    { ...pressure, effectiveDateTime: undefined, effectiveTiming: { code: { text: "x" } } },
    { ...pressure, component: [{ code: { text: "x" } }] },
  ].map((c) => JSON.parse(JSON.stringify(c)));
  for (const c of cases) {
    deepStrictEqual(validateFhirResource(c, "X"), oldValidateResource(c, "X"), JSON.stringify(c));
  }
  // The faster way is the one compared for these (blood pressure narrows `effective[x]`: not it).
  const fast = [...profilesByUrl().values()].filter((p) => p.schema).map((p) => p.type).sort();
  deepStrictEqual(fast, ["Device", "MedicationRequest", "Patient"]);
});

Deno.test("a message bundle of one entry per resource type the engine writes validates the same", async () => {
  const b = {
    resourceType: "Bundle",
    type: "message",
    entry: [{
      fullUrl: "urn:uuid:0c3a3c1e-0000-4000-8000-000000000001",
      resource: {
        resourceType: "MessageHeader",
        eventCoding: { system: V2_EVENT_SYSTEM, code: "A28" },
        source: { endpoint: "https://app.example.org" },
      },
    }],
  };
  deepStrictEqual(await same("minimal", b), []);
});
