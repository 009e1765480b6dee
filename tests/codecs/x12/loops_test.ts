// deno-lint-ignore-file no-explicit-any -- navigating parsed JSON in assertions
import assert from "node:assert/strict";
import {
  buildLoops,
  parseX12,
  readAllX12,
  readX12,
  transactionJson,
  validateTransaction,
  X12PathError,
  type X12Transaction,
} from "../../../codecs/x12/mod.ts";
import { ALL_BODIES, type SetBody, wrap } from "./fixtures.ts";

function tx(body: SetBody): X12Transaction {
  return parseX12(wrap([body])).interchanges[0]!.groups[0]!.transactions[0]!;
}

Deno.test("x12 loops: every guide's example fits its loops with no issue", () => {
  for (const [name, body] of Object.entries(ALL_BODIES)) {
    const t = tx(body);
    const tree = buildLoops(t);
    assert.equal(tree.def?.name, name, name);
    assert.deepEqual(validateTransaction(t, tree), [], name);
  }
});

Deno.test("x12 loops: paths read the guides' key values", () => {
  const cases: [string, string, string | string[]][] = [
    ["837P", "2010BA/NM1-09", "JS00111223333"],
    ["837P", "2010CA/NM1-03", "SMITH"],
    ["837P", "2000C/2300/CLM-01", "26463774"],
    ["837P", "2300/CLM-05-1", "11"],
    ["837P", "2400/SV1-01-2", ["99213", "87070", "99214", "86663"]],
    ["837P", "2300/2400[3]/DTP*472-03", "20061010"],
    ["837P", "2010AA/REF*EI-02", "587654321"],
    ["837P", "2310B/NM1-09", "1234567893"],
    ["837P", "BHT-03", "244579"],
    ["837I", "2300/HI[3]-02-4", "19911101"],
    ["837I", "2400/SV2-01", ["0305", "0730"]],
    ["837I", "2310A/NM1-03", "JONES"],
    ["837D", "2400/SV3-01-2", ["D0120", "D1110"]],
    ["837D", "2400[2]/TOO-02", "3"],
    ["270", "2100C/NM1-09", "11122333301"],
    ["270", "2110C/EQ-01", "30"],
    ["271", "2110C/EB-01", ["1", "L", "1", "B", "B"]],
    ["271", "2120C/NM1-03", "JONES"],
    ["276", "2200D/TRN-02", "ABCXYZ1"],
    ["276", "2200D/AMT-02", "8513.88"],
    ["277", "2200D/STC-01-2", "65"],
    ["278", "2000E/UM-01", "HS"],
    ["278", "2000F/SV1-01-2", "97110"],
    ["278", "2010C/NM1-09", "12345678901"],
    ["834", "2100A/NM1-03", ["BLUTH", "BLUTH"]],
    ["834", "2000[2]/2100A/NM1-04", "BUSTER"],
    ["834", "2310/NM1-09", "0202034"],
    ["834", "1000A/N1-02", "PAYER 1"],
    ["835", "2100/CLP-01", ["666123", "7722337"]],
    ["835", "2110/SVC-01-2", ["99211", "93010"]],
    ["835", "BPR-02", "150000"],
    ["835", "1000B/N1-04", "6543210903"],
    ["835", "PLB-03-2", "CP"],
  ];
  for (const [name, path, want] of cases) {
    const tree = buildLoops(tx(ALL_BODIES[name]!));
    const got = Array.isArray(want) ? readAllX12(tree, path) : readX12(tree, path);
    assert.deepEqual(got, want, `${name} ${path}`);
  }
});

Deno.test("x12 loops: HL loops nest under the HL their HL02 names", () => {
  const tree = buildLoops(tx(ALL_BODIES["837P"]!));
  const a = tree.root.loops.find((l) => l.id === "2000A")!;
  const b = a.loops.find((l) => l.id === "2000B")!;
  const c = b.loops.find((l) => l.id === "2000C")!;
  assert.deepEqual(c.loops.map((l) => l.id), ["2010CA", "2300"]);
  assert.equal(c.parent, b);
});

Deno.test("x12 loops: a segment that fits no loop and a missing required one are IK3 issues", () => {
  const body = ALL_BODIES["837P"]!;
  const bad = {
    ...body,
    body: body.body.filter((s) => !s.startsWith("N4*MIAMI*FL*33413")).concat("ZZZ*1"),
  };
  const t = tx(bad);
  const issues = validateTransaction(t);
  const unexpected = issues.find((i) => i.code === "UNEXPECTED_LOOP_SEGMENT")!;
  assert.equal(unexpected.ik3, "6");
  assert.equal(unexpected.segmentId, "ZZZ");
  assert.equal(unexpected.positionInSet, bad.body.length + 1);
  const missing = issues.find((i) => i.code === "MISSING_SEGMENT")!;
  assert.equal(missing.ik3, "3");
  assert.equal(missing.segmentId, "N4");
  assert.equal(missing.loop, "2010CA");
});

Deno.test("x12 loops: element checks give IK4 codes (required, date, number)", () => {
  const body = ALL_BODIES["837P"]!;
  const bad = {
    ...body,
    body: body.body.map((s) =>
      s === "DMG*D8*19430501*F"
        ? "DMG*D8*19430231*F"
        : s === "CLM*26463774*100***11:B:1*Y*A*Y*I"
        ? "CLM*26463774*1O0***11:B:1*Y*A*Y*I"
        : s === "NM1*87*2"
        ? "NM1*87"
        : s
    ),
  };
  const issues = validateTransaction(tx(bad));
  const got = issues.map((i) => [i.segmentId, i.element, i.ik3, i.ik4, i.loop, i.value]);
  assert.deepEqual(got, [
    ["NM1", 2, "8", "1", "2010AB", ""],
    ["DMG", 2, "8", "8", "2010BA", "19430231"],
    ["CLM", 2, "8", "6", "2300", "1O0"],
  ]);
});

Deno.test("x12 json: loops as objects with named segments and elements", () => {
  const t = parseX12(wrap([ALL_BODIES["271"]!]));
  const ic = t.interchanges[0]!;
  const g = ic.groups[0]!;
  const json = transactionJson(g.transactions[0]!, g, ic) as Record<string, any>;
  assert.equal(json.type, "271");
  assert.equal(json.interchange.usage, "T");
  const sub = json.loops["2000A"][0]["2000B"][0]["2000C"][0]["2100C"][0];
  assert.equal(sub.name, "Subscriber Name");
  assert.equal(sub.NM1.NM109, "11122333301");
  assert.equal(sub.NM1.NM105, undefined);
  const eb = sub["2110C"][2].EB;
  assert.deepEqual(eb.EB03, ["1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC"]);
  const p = parseX12(wrap([ALL_BODIES["837P"]!]));
  const claim = transactionJson(p.interchanges[0]!.groups[0]!.transactions[0]!) as Record<
    string,
    any
  >;
  const c = claim.loops["2000A"][0]["2000B"][0]["2000C"][0]["2300"][0];
  assert.deepEqual(c.CLM.CLM05, ["11", "B", "1"]);
  assert.equal(c["2400"].length, 4);
});

Deno.test("x12 path: malformed paths are refused with the path named", () => {
  const tree = buildLoops(tx(ALL_BODIES["837P"]!));
  for (const bad of ["", "nm1-09", "2010BA/", "NM1-0", "2010BA[0]/NM1-09", "NM1-09-", "a b/NM1"]) {
    assert.throws(() => readX12(tree, bad), (e: unknown) => {
      assert.ok(e instanceof X12PathError, bad);
      assert.equal(e.path, bad);
      return true;
    });
  }
  assert.equal(readX12(tree, "2010BA/NM1-20"), "");
  assert.equal(readX12(tree, "9999/NM1-09"), undefined);
});
