import assert from "node:assert/strict";
import fc from "fast-check";
import {
  EVENTS,
  hl7ToJson,
  identifyHl7,
  validateDataModel,
} from "../../../codecs/datamodel/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import {
  createRegistry,
  EMPI_AUTHORITY,
  MRN_AUTHORITY,
  resolveEvents,
  searchRegistry,
  Simulator,
  supportedLabels,
  type SyntheticMessage,
} from "../../../codecs/synthetic/mod.ts";

/** The JSON read back from the HL7, without what only the HL7 side has (MSH-3/5/10/12). */
function readBack(m: SyntheticMessage): Record<string, unknown> {
  const back = hl7ToJson(m.hl7, { timeZone: "UTC" }) as Record<string, unknown>;
  delete (back.Meta as Record<string, unknown>).Errors;
  delete back.Extensions;
  return back;
}

/** Validates, translates and reads back one message; the JSON must survive unchanged. */
function assertRoundTrip(m: SyntheticMessage): void {
  const checked = validateDataModel(m.json);
  assert.ok(checked.ok, `${m.label} ${JSON.stringify(!checked.ok && checked.issues)}`);
  const parsed = parseHl7(m.hl7);
  assert.equal(parsed.get("MSH-10"), m.controlId);
  assert.equal(identifyHl7(parsed), m.spec, `${m.label} read back as another event`);
  assert.deepEqual(readBack(m), m.json, `${m.label} ${m.spec.eventType}`);
}

for (const spec of EVENTS) {
  const name = `${spec.dataModel}.${spec.eventType}${
    spec.canceledEvent ? `.${spec.canceledEvent}` : ""
  }`;
  Deno.test(`synthetic ${name} validates, translates to HL7 and reads back unchanged`, () => {
    const sim = new Simulator({ seed: `rt-${name}` });
    for (let i = 0; i < 20; i++) assertRoundTrip(sim.event(spec));
  });
}

Deno.test("every label names its events; ORM^O01 all three orders, MDM^T02 Notes and Media", () => {
  for (const label of supportedLabels()) {
    const sim = new Simulator({ seed: label });
    const specs = resolveEvents(label);
    assert.ok(specs.length > 0, label);
    const got = sim.events(label, specs.length * 2);
    assert.deepEqual(new Set(got.map((m) => m.spec)), new Set(specs));
    for (const m of got) assert.equal(m.label, label);
  }
  assert.equal(resolveEvents("ORM^O01").length, 3);
  assert.deepEqual(resolveEvents("MDM^T02").map((e) => e.dataModel), ["Notes", "Media"]);
  assert.equal(resolveEvents("PatientAdmin.Cancel.Transfer")[0]?.trigger, "A12");
  assert.equal(resolveEvents("results").length, 1);
  assert.equal(resolveEvents("all").length, EVENTS.length);
  assert.deepEqual(resolveEvents("DFT^P03"), []);
  assert.throws(() => new Simulator().events("DFT^P03", 1), /no event matches "DFT\^P03"/);
});

Deno.test("a mixed stream covers every data model and every message survives translation", () => {
  const sim = new Simulator({ seed: "mixed" });
  const messages = sim.take(600);
  for (const m of messages) assertRoundTrip(m);
  const models = new Set(messages.map((m) => m.spec.dataModel));
  assert.deepEqual([...models].sort(), [
    "Media",
    "Notes",
    "Order",
    "PatientAdmin",
    "Results",
    "Scheduling",
  ]);
  const labels = new Set(messages.map((m) => m.label));
  for (const l of supportedLabels()) assert.ok(labels.has(l), `${l} missing from the stream`);
  // Control ids are unique, times never go backwards.
  assert.equal(new Set(messages.map((m) => m.controlId)).size, messages.length);
  const times = messages.map((m) => Date.parse(m.json.Meta.EventDateTime!));
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!);
});

Deno.test("stories are coherent: arrival before discharge, a transfer moves the bed, a merge follows its duplicate", () => {
  const sim = new Simulator({ seed: "stories", concurrentStories: 4 });
  const messages = sim.take(800);
  const visit = (m: SyntheticMessage) =>
    (m.json.Visit as { VisitNumber?: string } | undefined)?.VisitNumber;
  const arrived = new Set<string>();
  const where = new Map<string, string>();
  const duplicates = new Set<string>();
  let discharges = 0, transfers = 0, merges = 0;
  for (const m of messages) {
    const v = visit(m);
    const loc = JSON.stringify((m.json.Visit as { Location?: unknown } | undefined)?.Location);
    const ids = (m.json.Patient as { Identifiers: { ID: string }[] }).Identifiers;
    if (m.label === "ADT^A01") arrived.add(v!);
    if (m.label === "ADT^A03") {
      assert.ok(arrived.has(v!), `discharge of ${v} without an arrival`);
      assert.ok((m.json.Visit as { DischargeDateTime?: string }).DischargeDateTime);
      discharges++;
    }
    if (m.label === "ADT^A02") {
      assert.ok(arrived.has(v!), `transfer of ${v} without an arrival`);
      assert.notEqual(loc, where.get(v!), "a transfer changes the location");
      transfers++;
    }
    if (m.label === "ADT^A28" && ids.length === 1 && ids[0]!.ID.startsWith("T")) {
      duplicates.add(ids[0]!.ID);
    }
    if (m.label === "ADT^A40") {
      const prev = (m.json.Patient as { PreviousIdentifiers: { ID: string }[] })
        .PreviousIdentifiers[0]!.ID;
      assert.ok(duplicates.has(prev), `merge of ${prev} never registered`);
      assert.ok(ids.some((i) => i.ID !== prev));
      merges++;
    }
    if (v !== undefined && m.spec.dataModel === "PatientAdmin") where.set(v, loc);
  }
  assert.ok(discharges > 0 && transfers > 0 && merges > 0, `${discharges} ${transfers} ${merges}`);
});

Deno.test("the same seed gives the same registry and messages; another seed other ones", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 12 }), fc.nat({ max: 40 }), (seed, n) => {
      const a = new Simulator({ seed }).take(n + 1).map((m) => m.hl7);
      const b = new Simulator({ seed }).take(n + 1).map((m) => m.hl7);
      assert.deepEqual(a, b);
      const other = new Simulator({ seed: `${seed}!` }).take(n + 1).map((m) => m.hl7);
      assert.notDeepEqual(a, other);
    }),
    { numRuns: 25 },
  );
  assert.deepEqual(
    createRegistry({ seed: 3, size: 50 }).patients,
    createRegistry({ seed: 3, size: 50 }).patients,
  );
});

Deno.test("the registry is varied, made up, and searchable with single, multiple and no matches", () => {
  const registry = createRegistry({ seed: "search", size: 200 });
  const ps = registry.patients;
  assert.equal(ps.length, 200);
  assert.equal(new Set(ps.map((p) => p.mrn)).size, 200, "MRNs are unique");
  assert.ok(new Set(ps.map((p) => p.lastName)).size > 30, "many family names");
  assert.ok(new Set(ps.map((p) => p.firstName)).size > 50, "many given names");
  assert.ok(new Set(ps.map((p) => p.address.City)).size > 5, "many towns");
  assert.ok(ps.some((p) => p.sex === "Female") && ps.some((p) => p.sex === "Male"));
  for (const p of ps) {
    assert.match(p.ssn, /^9\d\d-\d\d-\d{4}$/, "never an issued SSN");
    assert.match(p.homePhone, /^\(\d{3}\)555-01\d\d$/, "fictional numbers only");
    assert.match(p.dob, /^\d{4}-\d\d-\d\d$/);
  }
  const someone = ps[42]!;
  assert.deepEqual(searchRegistry(registry, { identifiers: [{ id: someone.mrn }] }), [someone]);
  assert.deepEqual(
    searchRegistry(registry, { identifiers: [{ id: someone.empi, type: EMPI_AUTHORITY }] }),
    [someone],
  );
  assert.deepEqual(
    searchRegistry(registry, { identifiers: [{ id: someone.mrn, type: EMPI_AUTHORITY }] }),
    [],
    "an identifier of another authority is no match",
  );
  // Every thirteenth is a twin of the one before: same family name and birth date.
  const twin = ps[12]!, sibling = ps[11]!;
  const twins = searchRegistry(registry, {
    lastName: twin.lastName.toUpperCase(),
    dob: twin.dob,
  });
  assert.ok(twins.includes(twin) && twins.includes(sibling) && twins.length >= 2);
  assert.ok(searchRegistry(registry, { lastName: ps[6]!.lastName }).length >= 2);
  assert.deepEqual(searchRegistry(registry, { lastName: "Nobody-By-This-Name" }), []);
  assert.deepEqual(searchRegistry(registry, {}), [], "no criterion matches nobody");
  assert.deepEqual(
    searchRegistry(registry, {
      firstName: someone.firstName.normalize("NFD").replace(/\p{M}/gu, ""),
      lastName: someone.lastName,
      dob: someone.dob,
      sex: someone.sex,
      identifiers: [{ id: someone.mrn, type: MRN_AUTHORITY }],
    }),
    [someone],
    "names match without accents",
  );
});
