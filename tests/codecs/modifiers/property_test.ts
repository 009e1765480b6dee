import assert from "node:assert/strict";
import fc from "fast-check";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import {
  applyHl7Edits,
  applyModifiers,
  compileHl7Edits,
  compileModifiers,
  formatKeys,
  type JsonKeys,
  type ModifierList,
  parseSelector,
  selectAll,
} from "../../../codecs/modifiers/mod.ts";

const RUNS = { numRuns: 300 };
const KEYS = ["a", "b", "ID", "IDType"];

/** Small JSON trees over few keys, so that selectors often match. */
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("x", "y", "MR", 1, null, true),
    fc.dictionary(fc.constantFrom(...KEYS), tie("tree"), { maxKeys: 4, noNullPrototype: true }),
    fc.array(tie("tree"), { maxLength: 4 }),
  ),
}));
const rootObject = fc.dictionary(fc.constantFrom(...KEYS), tree, {
  minKeys: 1,
  maxKeys: 4,
  noNullPrototype: true,
});

/** Selectors over the same keys: names, [*] and predicates (no indexes: they shift on delete). */
const selector = fc.tuple(
  fc.constantFrom(...KEYS),
  fc.array(
    fc.oneof(
      fc.constantFrom(...KEYS).map((k) => `.${k}`),
      fc.constant("[*]"),
      fc.constantFrom('[?IDType=="MR"]', '[?IDType!="MR"]', "[?ID==1]", "[?a==null]"),
    ),
    { maxLength: 4 },
  ),
).map(([first, rest]) => first + rest.join(""));

function compile(raw: unknown): ModifierList {
  const c = compileModifiers(raw);
  if (!c.ok) throw new Error(JSON.stringify(c.problems));
  return c.list;
}

/** A copy of `v` without the nodes at `drop` (paths formatted as by formatKeys). */
function without(v: unknown, drop: Set<string>, keys: (string | number)[] = []): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    v.forEach((x, i) => {
      keys.push(i);
      if (!drop.has(formatKeys(keys))) out.push(without(x, drop, keys));
      keys.pop();
    });
    return out;
  }
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      keys.push(k);
      if (!drop.has(formatKeys(keys))) out[k] = without(x, drop, keys);
      keys.pop();
    }
    return out;
  }
  return v;
}

Deno.test("property: delete removes exactly what its selector matches, nothing else", () => {
  fc.assert(
    fc.property(rootObject, selector, (doc, sel) => {
      const frozen = structuredClone(doc);
      const matched = selectAll(doc, parseSelector(sel)).map((m) => formatKeys(m.keys));
      const r = applyModifiers(compile([{ flavor: "delete", selector: sel }]), doc);
      assert.ok(r.ok);
      assert.deepEqual(r.value, without(doc, new Set(matched)));
      assert.deepEqual(selectAll(r.value, parseSelector(sel)), []);
      assert.deepEqual(r.runs[0]?.changed, matched);
      assert.deepEqual(doc, frozen, "the input is unchanged");
    }),
    RUNS,
  );
});

/** Every concrete path of a tree (names and indexes), the root excluded. */
function allPaths(v: unknown, keys: (string | number)[] = [], out: JsonKeys[] = []): JsonKeys[] {
  if (keys.length > 0) out.push(keys.slice());
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      keys.push(i);
      allPaths(x, keys, out);
      keys.pop();
    });
  } else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      keys.push(k);
      allPaths(x, keys, out);
      keys.pop();
    }
  }
  return out;
}

Deno.test("property: put of a get of the same path is the identity (present or absent)", () => {
  fc.assert(
    fc.property(rootObject, fc.nat(), fc.constantFrom(...KEYS), (doc, pick, extra) => {
      const paths = allPaths(doc).filter((k) => typeof k[0] === "string");
      const chosen = paths.length === 0 ? [extra] : paths[pick % paths.length] as JsonKeys;
      for (const keys of [chosen, [...chosen, extra]]) {
        const p = formatKeys(keys);
        const r = applyModifiers(
          compile([{ flavor: "put", selector: p, schema: { get: `$.${p}` } }]),
          doc,
        );
        assert.ok(r.ok);
        assert.deepEqual(r.value, doc, p);
        assert.deepEqual(r.runs[0]?.changed, [], p);
      }
    }),
    RUNS,
  );
});

Deno.test("property: put of the value itself, or of its sibling get, over [*] is the identity", () => {
  fc.assert(
    fc.property(rootObject, selector, (doc, sel) => {
      const last = /\.([A-Za-z]+)$/.exec(sel)?.[1];
      const schemas: unknown[] = [{ use: "value" }, ...(last ? [{ get: last }] : [])];
      for (const schema of schemas) {
        const r = applyModifiers(compile([{ flavor: "put", selector: sel, schema }]), doc);
        assert.ok(r.ok);
        assert.deepEqual(r.value, doc);
        assert.deepEqual(r.runs[0]?.changed, []);
      }
    }),
    RUNS,
  );
});

// ---- HL7 -------------------------------------------------------------------------------------

const value = fc.stringMatching(/^[A-Z0-9 ]{0,5}$/);
const field = fc.array(fc.array(value, { minLength: 1, maxLength: 3 }).map((c) => c.join("^")), {
  minLength: 1,
  maxLength: 3,
}).map((r) => r.join("~"));
const segment = fc.tuple(
  fc.constantFrom("PID", "PV1", "OBX", "NTE", "ZPI"),
  fc.array(field, { minLength: 1, maxLength: 8 }),
).map(([id, fs]) => [id, ...fs].join("|"));
const message = fc.tuple(
  fc.array(segment, { minLength: 1, maxLength: 8 }),
  fc.constantFrom("\r", "\n", "\r\n"),
).map(([segs, sep]) => ({
  text: ["MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5", ...segs].join(sep) + sep,
  sep,
}));

Deno.test("property: an HL7 edit leaves every other segment and field byte-identical", () => {
  fc.assert(
    fc.property(
      message,
      fc.nat(),
      fc.integer({ min: 1, max: 9 }),
      fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      fc.constantFrom("set", "delete"),
      value,
      (m, pick, f, comp, op, v) => {
        const msg = parseHl7(m.text);
        const names = msg.segmentNames();
        const k = 1 + (pick % (names.length - 1)); // never MSH
        const name = names[k] as string;
        const occurrence = names.slice(0, k + 1).filter((n) => n === name).length;
        const path = `${name}[${occurrence}]-${f}${comp === undefined ? "" : `.${comp}`}`;
        const raw = op === "set" ? [{ op, path, value: v }] : [{ op, path }];
        const c = compileHl7Edits(raw);
        assert.ok(c.ok);
        const r = applyHl7Edits(c.list, msg);
        assert.ok(r.ok);
        const before = m.text.split(m.sep), after = r.message.encode().split(m.sep);
        assert.equal(after.length, before.length);
        for (let i = 0; i < before.length; i++) {
          if (i === k) continue;
          assert.equal(after[i], before[i], `segment ${i} untouched`);
        }
        const bf = (before[k] as string).split("|"), af = (after[k] as string).split("|");
        for (let i = 0; i < Math.max(bf.length, af.length); i++) {
          if (i === f) continue;
          // Fields past the end may be added (empty) to reach the edited one, never changed.
          assert.equal(af[i] ?? "", bf[i] ?? "", `field ${i} untouched`);
        }
        if (r.runs[0]?.changed.length === 0) assert.equal(r.message.encode(), m.text);
      },
    ),
    RUNS,
  );
});

Deno.test("property: deleting segments keeps the remaining ones byte-identical", () => {
  fc.assert(
    fc.property(message, fc.subarray(["PID", "PV1", "OBX", "NTE", "ZPI"]), (m, drop) => {
      fc.pre(drop.length > 0);
      const c = compileHl7Edits([{ op: "delete", segments: drop }]);
      assert.ok(c.ok);
      const r = applyHl7Edits(c.list, parseHl7(m.text));
      assert.ok(r.ok);
      const segs = m.text.split(m.sep).slice(0, -1);
      const kept = segs.filter((s) => !drop.includes(s.slice(0, 3)));
      assert.equal(r.message.encode(), kept.join(m.sep) + m.sep);
    }),
    RUNS,
  );
});
