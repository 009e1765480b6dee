import assert from "node:assert/strict";
import fc from "fast-check";
import {
  invalidUtf8At,
  locateJsonError,
  parseJsonBytes,
} from "../../../transports/http/json_parse.ts";

const enc = new TextEncoder();

/** V8's own position for an error, where its message gives one. */
function v8Position(text: string): number | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    const m = /at position (\d+)/.exec((error as Error).message);
    return m ? Number(m[1]) : undefined;
  }
}

const valid = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

Deno.test("the JSON error locator agrees with JSON.parse on what is valid, and on where it breaks", () => {
  // Valid JSON, then the same text cut short or with one character changed or inserted.
  const texts = fc.tuple(
    fc.json(),
    fc.nat(),
    fc.constantFrom(",", "}", "]", ":", '"', "x", "\\", "\n", "0", "-", ".", "e", "\u0001", ""),
    fc.constantFrom("cut", "replace", "insert", "none"),
  ).map(([json, at, ch, how]) => {
    const i = json.length === 0 ? 0 : at % json.length;
    if (how === "cut") return json.slice(0, i);
    if (how === "replace") return json.slice(0, i) + ch + json.slice(i + 1);
    if (how === "insert") return json.slice(0, i) + ch + json.slice(i);
    return json;
  });
  fc.assert(
    fc.property(fc.oneof(texts, fc.string()), (text) => {
      const found = locateJsonError(text);
      assert.equal(found === undefined, valid(text), JSON.stringify(text));
      const v8 = v8Position(text);
      if (found && v8 !== undefined) assert.equal(found.position, v8, JSON.stringify(text));
    }),
    { numRuns: 3_000 },
  );
});

Deno.test("a JSON error names the line and column without quoting the body", () => {
  const secret = "Jane Q Patient";
  const r = parseJsonBytes(enc.encode(`{"Name": "${secret}",\n  "DOB": 1970-01-01}`));
  assert.ok(!r.ok);
  assert.equal(
    r.error,
    "invalid JSON at line 2, column 14 (character 40): expected ',' or '}' after a property value, found \"-\"",
  );
  const empty = parseJsonBytes(new Uint8Array(0));
  assert.ok(
    !empty.ok &&
      /line 1, column 1 .*unexpected end of the body: expected a value/.test(empty.error),
  );
  const bom = parseJsonBytes(new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode('{"a":1}')]));
  assert.deepEqual(bom, { ok: true, value: { a: 1 } });
  // Deep nesting is located without recursion.
  const deep = "[".repeat(100_000) + "x";
  assert.equal(locateJsonError(deep)?.position, 100_000);
});

Deno.test("the first invalid UTF-8 byte is found where a fatal decoder would stop", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.string({ unit: "binary" }), (bytes, s) => {
      for (const input of [bytes, enc.encode(s)]) {
        const at = invalidUtf8At(input);
        let ok = true;
        try {
          new TextDecoder("utf-8", { fatal: true }).decode(input);
        } catch {
          ok = false;
        }
        assert.equal(at === input.length, ok);
        if (!ok) {
          // Everything before it decodes; it does not.
          new TextDecoder("utf-8", { fatal: true }).decode(input.subarray(0, at));
        }
      }
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("half of a surrogate pair, in a value or a key, is refused with its path; a whole pair is text", () => {
  const refused = (json: string) => {
    const r = parseJsonBytes(enc.encode(json));
    assert.equal(r.ok, false, json);
    return r.ok ? "" : r.error;
  };
  assert.match(
    refused(String.raw`{"a":[1,{"b":"x\ud800"}]}`),
    /^invalid text at \$\.a\[1\]\.b: a lone UTF-16 surrogate \(\\ud800\)/,
  );
  assert.match(refused(String.raw`["\udfff"]`), /at \$\[0\]: .*\(\\udfff\)/);
  assert.match(refused(String.raw`{"k\udc00":1}`), /at \$ \(a key\): /);
  assert.match(refused(String.raw`{"x y":"\ude00\ud83d"}`), /at \$\["x y"\]: .*\(\\ude00\)/);
  const pair = parseJsonBytes(enc.encode(String.raw`{"a":"\uD83D\uDE00","b":"\\ud800"}`));
  assert.deepEqual(pair, { ok: true, value: { a: "😀", b: "\\ud800" } });
});
