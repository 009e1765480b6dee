import assert from "node:assert/strict";
import { hl7ToJson, jsonToHl7 } from "../../../codecs/datamodel/mod.ts";
import { type Hl7Message, parseHl7, withUtf8Label } from "../../../codecs/hl7v2/mod.ts";
import { tryHl7ToIso } from "../../../codecs/time/mod.ts";
import { FIXTURES, ZONE } from "./fixtures.ts";

interface Corpus {
  corpus(n: number, seed: number): string[];
  big(i: number, rng: () => number, kib: number): string;
  rng(seed: number): () => number;
}

const gen = await import(
  new URL("../../../../shared/tools/hl7corpus.mjs", import.meta.url).href
) as Corpus;

function withoutErrors(json: unknown): unknown {
  const copy = structuredClone(json) as { Meta: Record<string, unknown> };
  delete copy.Meta.Errors;
  return copy;
}

/** Every non-empty leaf of a message: `SEG[n]-f[r].c.s` → encoded text. */
function leaves(m: Hl7Message): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const name of m.segmentNames()) {
    const occ = (seen.get(name) ?? 0) + 1;
    seen.set(name, occ);
    const text = m.getRaw(`${name}[${occ}]`) as string;
    const fields = text.split("|");
    for (let f = name === "MSH" ? 2 : 1; f < fields.length; f++) {
      const fn = name === "MSH" ? f + 1 : f;
      if (name === "MSH" && fn <= 2) continue;
      (fields[f] as string).split("~").forEach((rep, r) =>
        rep.split("^").forEach((comp, c) =>
          comp.split("&").forEach((leaf, s) => {
            if (leaf !== "") out.set(`${name}[${occ}]-${fn}[${r + 1}].${c + 1}.${s + 1}`, leaf);
          })
        )
      );
    }
  }
  return out;
}

/** Whether two leaves are the same value: equal text, or the same instant as HL7 times. */
function sameLeaf(a: string, b: string): boolean {
  if (a === b) return true;
  const x = tryHl7ToIso(a, { timeZone: ZONE }), y = tryHl7ToIso(b, { timeZone: ZONE });
  return x.ok && y.ok && /^\d{12}/.test(a) && Date.parse(x.value) === Date.parse(y.value);
}

for (const [name, text] of Object.entries(FIXTURES)) {
  Deno.test(`${name} survives HL7 → JSON → HL7 byte for byte`, () => {
    const json = hl7ToJson(text, { timeZone: ZONE });
    assert.equal(jsonToHl7(json, { timeZone: ZONE }), text);
  });

  Deno.test(`${name} gives the same JSON after HL7 → JSON → HL7 → JSON`, () => {
    const json = hl7ToJson(text, { timeZone: ZONE });
    const again = hl7ToJson(jsonToHl7(json, { timeZone: ZONE }), { timeZone: ZONE });
    assert.deepEqual(withoutErrors(again), withoutErrors(json));
  });
}

Deno.test("the shared corpus keeps every field through HL7 → JSON → HL7 (times as instants)", () => {
  const messages = gen.corpus(60, 7);
  let compared = 0;
  for (const text of messages) {
    const original = parseHl7(text);
    const json = hl7ToJson(original, { timeZone: ZONE });
    const back = parseHl7(jsonToHl7(json, { timeZone: ZONE }));
    const after = leaves(back);
    for (const [path, leaf] of leaves(original)) {
      const got = after.get(path);
      assert.ok(got !== undefined && sameLeaf(leaf, got), `${path}: ${leaf} became ${got}`);
      compared++;
    }
    // The HL7 written is UTF-8 text: MSH-18 says so once it holds more than ASCII.
    const sent = hl7ToJson(withUtf8Label(text), { timeZone: ZONE });
    assert.deepEqual(
      withoutErrors(hl7ToJson(back, { timeZone: ZONE })),
      withoutErrors(sent),
      "HL7 → JSON → HL7 → JSON changed the JSON",
    );
  }
  assert.ok(compared > 3000, `only ${compared} leaves compared`);
});

Deno.test("a 1 MiB encapsulated report round-trips with its base64 intact", () => {
  const text = gen.big(1, gen.rng(3), 1024);
  const json = hl7ToJson(text, { timeZone: ZONE });
  const orders = json.Orders as { Results: Record<string, unknown>[] }[];
  const result = orders[0]?.Results[3] as Record<string, unknown>;
  assert.equal(result.ValueType, "Encapsulated Data");
  assert.equal(result.FileType, "PDF");
  assert.equal((result.Value as string).length, 1024 * 1024);
  const back = parseHl7(jsonToHl7(json, { timeZone: ZONE }));
  assert.equal(back.get("OBX[4]-5.5"), parseHl7(text).get("OBX[4]-5.5"));
});
