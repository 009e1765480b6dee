import assert from "node:assert/strict";
import { compileSafeRegex, SafeRegexError } from "../../../codecs/modifiers/mod.ts";
import { MAX_INPUT_LENGTH } from "../../../codecs/modifiers/safe_regex.ts";

Deno.test("safe regex: the supported syntax agrees with RegExp on ordinary patterns", () => {
  const cases: [string, string, string][] = [
    ["abc", "", "xxabcx"],
    ["^abc$", "", "xabc"],
    ["^a(b|c)+d$", "", "abcbcd"],
    ["\\d{3}-\\d{4}", "", "555-1234"],
    ["^\\d{3}-\\d{4}$", "", "55-1234"],
    ["[^a-z]", "", "abc"],
    ["[A-F0-9]{2,}", "", "zz9F"],
    ["ABC", "i", "xabcx"],
    ["^[a-z]+$", "i", "MiXeD"],
    ["^$", "", ""],
    ["a|", "", "zzz"],
    ["^(?:LN|LOINC)$", "", "LOINC"],
    ["x{2,3}y", "", "xxxy"],
    ["^x{2,3}y", "", "xxxxy"],
    ["[a\\-z]", "", "-"],
    ["colou?r", "", "color"],
    ["^\\s*\\S+\\s*$", "", "  word "],
    ["\\w+@\\w+\\.org", "", "me@example.org"],
    ["a.c", "", "a\nc"],
    ["^.*?end$", "", "the end"],
    ["[.]", "", "x"],
    ["\\.", "", "a.b"],
    ["(a*)*b", "", "aaab"],
  ];
  for (const [p, f, input] of cases) {
    assert.equal(
      compileSafeRegex(p, f).test(input),
      new RegExp(p, f).test(input),
      `${p} /${f} on ${JSON.stringify(input)}`,
    );
  }
});

Deno.test("safe regex: catastrophic patterns for a backtracking engine run in linear time", () => {
  // (a+)+$ on "aaaa…!" takes exponential time in RegExp; here it is one pass.
  const evil: [string, boolean][] = [
    ["(a+)+$", false],
    ["^(a|aa)*$", false],
    ["(a*)*b", false],
    ["^(\\w+\\s?)*$", false],
    ["(.*a){12}", true],
  ];
  const input = "a".repeat(MAX_INPUT_LENGTH - 1) + "!";
  for (const [p, want] of evil) {
    // Not a timing assertion: the answer must be right, and on a backtracking engine this test
    // would not finish.
    assert.equal(compileSafeRegex(p).test(input), want, p);
  }
});

Deno.test("safe regex: input longer than the limit never matches", () => {
  const re = compileSafeRegex("a");
  assert.equal(re.test("a".repeat(MAX_INPUT_LENGTH)), true);
  assert.equal(re.test("a".repeat(MAX_INPUT_LENGTH + 1)), false);
});

Deno.test("safe regex: unsupported or unsafe syntax is refused with a reason", () => {
  const refused: [string, RegExp][] = [
    ["(a", /missing "\)"/],
    ["a)", /unmatched "\)"/],
    ["(a)\\1", /back-references/],
    ["(?=a)", /look-arounds/],
    ["(?<n>a)", /look-arounds and named groups/],
    ["a**", /quantifier after a quantifier/],
    ["*a", /nothing to repeat/],
    ["x{200}", /bound over 100/],
    ["\\bword", /word boundary/],
    ["(((a{100}){100}){100})", /more than 2000 steps/],
    ["a".repeat(300), /longer than 256/],
    ["[z-a]", /out of order/],
    ["\\q", /unknown escape/],
  ];
  for (const [p, why] of refused) {
    assert.throws(() => compileSafeRegex(p), (e: unknown) => {
      assert.ok(e instanceof SafeRegexError, p);
      assert.match((e as Error).message, why, p);
      return true;
    });
  }
  assert.throws(() => compileSafeRegex("a", "g"), /only "i"/);
});
