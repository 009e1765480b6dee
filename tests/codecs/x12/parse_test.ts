import assert from "node:assert/strict";
import {
  encodeX12,
  parseX12,
  streamX12,
  transactionsOf,
  X12EnvelopeError,
  X12ParseError,
} from "../../../codecs/x12/mod.ts";
import { ALL_BODIES, wrap, X270_BODY, X837P_BODY } from "./fixtures.ts";

Deno.test("x12 parse: separators come from ISA, with or without line breaks, byte for byte back", () => {
  for (const lineBreak of ["", "\n", "\r\n"]) {
    for (
      const separators of [["*", "^", ":", "~"], ["|", "{", ">", "\n"], [
        "!",
        "@",
        "\\",
        "'",
      ]] as const
    ) {
      if (separators[3] === "\n" && lineBreak !== "") continue;
      const text = wrap([X837P_BODY], { lineBreak, separators });
      const doc = parseX12(text);
      const ic = doc.interchanges[0]!;
      assert.deepEqual(
        [
          ic.separators.element,
          ic.separators.repetition,
          ic.separators.component,
          ic.separators.segment,
        ],
        [...separators],
      );
      assert.equal(encodeX12(doc), text);
      const tx = ic.groups[0]!.transactions[0]!;
      assert.equal(tx.segments.length, X837P_BODY.body.length + 2);
      assert.equal(tx.setId, "837");
      assert.equal(tx.implementation, "005010X222A1");
    }
  }
});

Deno.test("x12 parse: several interchanges with their own separators, groups and transactions", () => {
  const a = wrap([X837P_BODY, X837P_BODY, X270_BODY], { control: 7, lineBreak: "\n" });
  const b = wrap([X270_BODY], { control: 8, separators: ["|", "^", ">", "~"] });
  const text = "\uFEFF" + a + b + "\n\n";
  const doc = parseX12(text);
  assert.equal(doc.interchanges.length, 2);
  assert.deepEqual(doc.interchanges.map((i) => i.controlNumber), ["000000007", "000000008"]);
  assert.deepEqual(doc.interchanges[0]!.groups.map((g) => g.transactions.length), [2, 1]);
  assert.equal(doc.interchanges[1]!.separators.element, "|");
  assert.deepEqual([...transactionsOf(doc)].map((t) => t.transaction.setId), [
    "837",
    "837",
    "270",
    "270",
  ]);
  assert.equal(encodeX12(doc), text);
});

Deno.test("x12 parse: typed errors name the segment, element and offset", () => {
  const cases: [string, string, RegExp][] = [
    ["", "EMPTY", /empty/],
    ["  \n", "EMPTY", /empty/],
    ["GS*HC*A*B~", "NO_ISA", /must start with ISA/],
    ["ISA*00*", "ISA_TOO_SHORT", /ends inside ISA/],
    [wrap([X270_BODY]).replace(/\*:~/, "*A~"), "BAD_SEPARATORS", /ISA16 is "A"/],
    [wrap([X270_BODY]).replace("^*00501", ":*00501"), "BAD_SEPARATORS", /same character/],
    [wrap([X270_BODY]).replace("BHT*", "bht*"), "INVALID_SEGMENT_ID", /segment 4, offset 188\)/],
  ];
  for (const [text, code, message] of cases) {
    assert.throws(() => parseX12(text), (e: unknown) => {
      assert.ok(e instanceof X12ParseError, `${code}: ${e}`);
      assert.equal(e.code, code);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("x12 parse: strict mode throws the first envelope issue with its position and element", () => {
  const text = wrap([X270_BODY]).replace("SE*13*0001", "SE*12*0001");
  assert.throws(() => parseX12(text), (e: unknown) => {
    assert.ok(e instanceof X12EnvelopeError);
    assert.equal(e.code, "COUNT_MISMATCH");
    assert.equal(e.issue.element, 1);
    assert.equal(e.issue.segmentId, "SE");
    assert.equal(e.issue.segmentIndex, 14);
    assert.match(
      e.message,
      /SE01 says 12 segments, the transaction set has 13 \(segment 15 SE, element 1/,
    );
    return true;
  });
  const doc = parseX12(text, { strict: false });
  assert.equal(doc.issues.length, 1);
  assert.equal(doc.issues[0]!.ik5, "4");
  assert.equal(encodeX12(doc), text);
});

Deno.test("x12 parse: a last segment cut short of its terminator is kept for the round trip", () => {
  const text = wrap([X270_BODY]).replace(/IEA\*1\*000000001~$/, "IEA*1*000000001");
  const doc = parseX12(text);
  assert.equal(encodeX12(doc), text);
});

Deno.test("x12 stream: chunks of any size give the same transactions and issues as a whole parse", async () => {
  const text = wrap(Object.values(ALL_BODIES), { lineBreak: "\r\n" }) +
    wrap([X837P_BODY], { control: 2, separators: ["|", "^", ">", "\n"] });
  const whole = parseX12(text);
  const expected = [...transactionsOf(whole)].map((t) =>
    t.transaction.segments.map((s) => s.elements.join("|"))
  );
  for (const size of [1, 2, 7, 105, 106, 107, 4096]) {
    const bytes = new TextEncoder().encode(text);
    const chunks = async function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
    };
    const got: string[][] = [];
    let interchanges = 0;
    for await (const item of streamX12(chunks())) {
      if (item.kind === "transaction") {
        got.push(item.transaction.segments.map((s) => s.elements.join("|")));
      }
      if (item.kind === "interchange") {
        interchanges++;
        assert.deepEqual(item.interchange.issues, []);
      }
    }
    assert.deepEqual(got, expected, `chunk size ${size}`);
    assert.equal(interchanges, 2);
  }
});

Deno.test("x12 stream: groups drop their transactions once handed out (bounded memory)", async () => {
  const text = wrap(Array.from({ length: 50 }, () => X837P_BODY));
  let groups = 0;
  for await (const item of streamX12([text])) {
    if (item.kind === "group") {
      groups++;
      assert.equal(item.group.transactions.length, 0);
      assert.equal(item.group.transactionCount, 50);
      assert.deepEqual(item.group.issues, []);
    }
  }
  assert.equal(groups, 1);
});
