import assert from "node:assert/strict";
import {
  compileTranslationSets,
  lookup,
  parseTranslationCsv,
} from "../../../codecs/modifiers/mod.ts";
import { set } from "./fixtures.ts";

Deno.test("translation sets from config: entries, onMissing pass/default/fail", () => {
  const c = compileTranslationSets({
    localSex: { entries: { "1": "F", "2": "M" }, onMissing: "default", default: "U" },
    passThrough: { entries: { A: "B" } },
    strict: { onMissing: "fail" },
  });
  assert.ok(c.ok);
  const sets = c.sets;
  assert.equal(lookup(sets, "localSex", "1", "x"), "F");
  assert.equal(lookup(sets, "localSex", "9", "x"), "U");
  assert.equal(lookup(sets, "passThrough", "Z", "x"), "Z");
  assert.throws(() => lookup(sets, "strict", "Z", "edit"), /no entry in translation set strict/);
  const used = new Map<string, number>();
  lookup(new Map([["v", set("v", {}, "pass", { version: 4 })]]), "v", "a", "x", {}, used);
  assert.deepEqual([...used], [["v", 4]]);
});

Deno.test("translation sets from config: problems with paths", () => {
  const c = compileTranslationSets({
    "bad name!": {},
    a: { onMissing: "drop" },
    b: { onMissing: "default" },
    c: { entries: { "1": 1 }, extra: true },
    d: [],
  });
  assert.ok(!c.ok);
  assert.deepEqual(c.problems.map((p) => `${p.path}: ${p.message}`), [
    ".bad name!: a set name is 1–64 letters, digits, _ . -",
    ".a.onMissing: unknown (known: pass, default, fail)",
    '.b.default: required when onMissing is "default"',
    ".c.extra: unknown (known: entries, onMissing, default, comment)",
    ".c.entries.1: must be a string",
    ".d: must be an object {entries, onMissing, default}",
  ]);
});

Deno.test("CSV import: header, quotes, CRLF, BOM, blank lines", () => {
  const r = parseTranslationCsv('\uFEFFfrom,to\r\n1,F\r\n"2","M"\n\n"a,b","say ""hi"""\n3,\n');
  assert.ok(r.ok);
  assert.deepEqual([...r.entries], [["1", "F"], ["2", "M"], ["a,b", 'say "hi"'], ["3", ""]]);
  // Without the header row the first line is data.
  const r2 = parseTranslationCsv("x,y");
  assert.ok(r2.ok);
  assert.deepEqual([...r2.entries], [["x", "y"]]);
});

Deno.test("CSV import: problems name their line", () => {
  const r = parseTranslationCsv('from,to\n1,F\n1,M\n,X\na,b,c\n"open,x');
  assert.ok(!r.ok);
  assert.deepEqual(r.problems, [
    "line 6: a quoted cell is not closed",
    "line 3: code 1 appears twice",
    "line 4: the code is empty",
    "line 5: expected 2 cells (code,replacement), found 3",
  ]);
});
