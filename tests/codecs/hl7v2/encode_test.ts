import assert from "node:assert/strict";
import {
  DEFAULT_DELIMITERS,
  encodeField,
  encodeSegment,
  Hl7ValueError,
  parseHl7,
} from "../../../codecs/hl7v2/mod.ts";

Deno.test("encodeField escapes text and builds components, subcomponents and repetitions", () => {
  assert.equal(encodeField("a|b"), "a\\F\\b");
  assert.equal(encodeField(["DOE", "JANE"]), "DOE^JANE");
  assert.equal(encodeField(["A", ["x", "y&z"]]), "A^x&y\\T\\z");
  assert.equal(encodeField({ repetitions: ["1", ["2", "b"]] }), "1~2^b");
  assert.equal(encodeField({ raw: "kept^as&is" }), "kept^as&is");
  assert.equal(encodeField([{ raw: "a&b" }, "c^d"]), "a&b^c\\S\\d");
  assert.equal(encodeField(null), "");
  assert.equal(encodeField(undefined), "");
});

Deno.test("encodeSegment writes MSH-1 and MSH-2 from the delimiters", () => {
  const d = { ...DEFAULT_DELIMITERS, field: "#" };
  assert.equal(encodeSegment("MSH", ["APP", "FAC"], { delimiters: d }), "MSH#^~\\&#APP#FAC");
  assert.equal(encodeSegment("MSH", []), "MSH|^~\\&");
});

Deno.test("encodeSegment drops trailing empty fields unless asked to keep them", () => {
  assert.equal(encodeSegment("PID", ["1", null, "x", null, ""]), "PID|1||x");
  assert.equal(
    encodeSegment("PID", ["1", null, "x", null], { keepTrailingEmpty: true }),
    "PID|1||x|",
  );
  assert.throws(() => encodeSegment("pid", []), Hl7ValueError);
});

Deno.test("segments built with encodeSegment parse back to the same values", () => {
  const text = [
    encodeSegment("MSH", ["A", "B", "C", "D", "2024", null, ["ADT", "A01"], "1", "P", "2.5"]),
    encodeSegment("PID", ["1", null, { repetitions: [["1", "", "", "H"], ["2"]] }, null, [
      "O|B",
      "J^J",
    ]]),
  ].join("\r");
  const m = parseHl7(text);
  assert.equal(m.get("PID-3[1].4"), "H");
  assert.equal(m.get("PID-3[2].1"), "2");
  assert.equal(m.get("PID-5.1"), "O|B");
  assert.equal(m.get("PID-5.2"), "J^J");
});
