import assert from "node:assert/strict";
import {
  build999,
  buildAckInterchange,
  buildLoops,
  judgeGroup,
  parseX12,
  readAllX12,
  ta1Status,
  validateTransaction,
} from "../../../codecs/x12/mod.ts";
import { ALL_BODIES, wrap, X270_BODY, X837P_BODY } from "./fixtures.ts";

const NOW = new Date("2024-03-15T12:30:00Z");

function lenient(text: string) {
  return parseX12(text, { strict: false });
}

Deno.test("x12 TA1: interchange envelope problems get the note code the standard assigns", () => {
  const good = wrap([X270_BODY]);
  const cases: [string, string, string][] = [
    ["valid", good, "000"],
    ["IEA02 differs from ISA13", good.replace("IEA*1*000000001", "IEA*1*000000002"), "001"],
    ["IEA01 wrong group count", good.replace("IEA*1*", "IEA*2*"), "021"],
    // The count is digits, as GE01 and SE01: these are not 1.
    ...["1e0", "0x1", " 1", ""].map((count): [string, string, string] => [
      `IEA01 "${count}"`,
      good.replace("IEA*1*", `IEA*${count}*`),
      "021",
    ]),
    ["missing IEA", good.replace("IEA*1*000000001~", ""), "023"],
    ["ISA15 not P/T/I", good.replace("*1*T*:~", "*1*X*:~"), "020"],
    ["ISA13 not 9 digits", good.replace("*00501*000000001*", "*00501*00000000A*"), "018"],
    ["ISA14 not 0/1", good.replace("*000000001*1*T*", "*000000001*2*T*"), "019"],
    ["ISA09 not a date", good.replace("*061015*1023*", "*061315*1023*"), "014"],
    ["ISA12 unsupported version", good.replace("*00501*", "*00601*"), "003"],
    ["ISA05 bad qualifier", good.replace("*ZZ*SUBMITTERID", "*Z9*SUBMITTERID"), "005"],
    ["ST outside a group", good.replace(/GS\*[^~]*~/, ""), "024"],
  ];
  for (const [what, text, note] of cases) {
    const ic = lenient(text).interchanges[0]!;
    assert.deepEqual(ta1Status(ic), { code: note === "000" ? "A" : "R", note }, what);
    const ack = buildAckInterchange(ic, { interchangeControlNumber: 42, now: NOW })!;
    assert.match(
      ack,
      new RegExp(`TA1\\*[0-9A]{9}\\*\\d{6}\\*1023\\*${note === "000" ? "A" : "R"}\\*${note}~`),
      what,
    );
    // A rejected interchange gets no 999: its groups were not read as valid content.
    assert.equal(ack.includes("ST*999"), note === "000", what);
  }
});

Deno.test("x12 999: group and transaction envelope problems get AK9 and IK5 codes", () => {
  const two = wrap([X837P_BODY, X837P_BODY]);
  const cases: [string, string, string, string[]][] = [
    ["GE01 wrong count", two.replace("GE*2*1", "GE*3*1"), "AK9*R*3*2*2*5", ["IK5*A", "IK5*A"]],
    ["GE02 differs from GS06", two.replace("GE*2*1", "GE*2*9"), "AK9*R*2*2*2*4", [
      "IK5*A",
      "IK5*A",
    ]],
    ["missing GE", two.replace("GE*2*1~", ""), "AK9*R*2*2*2*3", ["IK5*A", "IK5*A"]],
    ["SE01 wrong", two.replace("SE*44*0001", "SE*43*0001"), "AK9*P*2*2*1", ["IK5*R*4", "IK5*A"]],
    ["SE02 differs from ST02", two.replace("SE*44*0002", "SE*44*0009"), "AK9*P*2*2*1", [
      "IK5*A",
      "IK5*R*3",
    ]],
    ["missing SE", two.replace("SE*44*0001~", ""), "AK9*P*2*2*1", ["IK5*R*2", "IK5*A"]],
    [
      "duplicate ST02",
      two.replace("ST*837*0002", "ST*837*0001").replace("SE*44*0002", "SE*44*0001"),
      "AK9*P*2*2*1",
      ["IK5*A", "IK5*R*23"],
    ],
    ["both rejected", two.replace(/SE\*44/g, "SE*40"), "AK9*R*2*2*0", ["IK5*R*4", "IK5*R*4"]],
  ];
  for (const [what, text, ak9, ik5] of cases) {
    const doc = lenient(text);
    const ic = doc.interchanges[0]!;
    assert.equal(ta1Status(ic).code, "A", what);
    const ack = build999(ic.groups[0]!, ic);
    assert.ok(ack.includes(ak9 + "~"), `${what}: ${ack}`);
    assert.deepEqual(ack.split("~").filter((s) => s.startsWith("IK5")), ik5, what);
  }
});

Deno.test("x12 999: content errors are IK3/IK4 under their set, rejecting it or accepting with errors", () => {
  const body = {
    ...X837P_BODY,
    body: X837P_BODY.body.map((s) => s === "DMG*D8*19430501*F" ? "DMG*D8*19431301*F" : s)
      .concat("ZZZ*1"),
  };
  const doc = parseX12(wrap([body, X837P_BODY]));
  const ic = doc.interchanges[0]!;
  const g = ic.groups[0]!;
  const ack = build999(g, ic, { controlNumber: "0007" });
  assert.equal(
    ack,
    [
      "ST*999*0007*005010X231A1",
      "AK1*HC*1*005010X222A1",
      "AK2*837*0001*005010X222A1",
      "IK3*DMG*18*2010BA*8",
      "IK4*2**8*19431301",
      "IK3*ZZZ*44*2400*6",
      "IK5*R*5",
      "AK2*837*0002*005010X222A1",
      "IK5*A",
      "AK9*P*2*2*1",
      "SE*11*0007",
    ].join("~") + "~",
  );
  const lenientAck = build999(g, ic, { contentErrors: "accept-with-errors" });
  assert.ok(lenientAck.includes("IK5*E*5~"));
  assert.ok(lenientAck.includes("AK9*E*2*2*2~"));
  assert.equal(judgeGroup(g).accepted, 1);
});

Deno.test("x12 ack interchange: addressed back to the sender, valid X12, a 999 that reads as one", () => {
  const text = wrap([ALL_BODIES["837P"]!, ALL_BODIES["270"]!], { lineBreak: "\n", control: 17 });
  const ic = parseX12(text).interchanges[0]!;
  const ack = buildAckInterchange(ic, { interchangeControlNumber: 123, now: NOW })!;
  const back = parseX12(ack);
  assert.deepEqual(back.issues, []);
  const aic = back.interchanges[0]!;
  assert.equal(aic.sender.id, "RECEIVERID");
  assert.equal(aic.receiver.id, "SUBMITTERID");
  assert.equal(aic.controlNumber, "000000123");
  assert.equal(aic.usage, "T");
  assert.equal(aic.header.end, "~\n");
  assert.equal(aic.ta1.length, 1);
  assert.deepEqual(aic.groups.map((g) => [g.functionalId, g.sender, g.receiver, g.controlNumber]), [
    ["FA", "RECEIVERGS", "SENDERGS", "123"],
    ["FA", "RECEIVERGS", "SENDERGS", "124"],
  ]);
  for (const g of aic.groups) {
    const tx = g.transactions[0]!;
    assert.equal(tx.setId, "999");
    const tree = buildLoops(tx);
    assert.equal(tree.def?.name, "999");
    assert.deepEqual(validateTransaction(tx, tree), []);
    assert.deepEqual(readAllX12(tree, "2000/IK5-01"), ["A"]);
  }
  // No TA1 asked (ISA14 0) and nothing wrong: only the 999s.
  const quiet = parseX12(wrap([X270_BODY], { ackRequested: false })).interchanges[0]!;
  const only999 = buildAckInterchange(quiet, { interchangeControlNumber: 1, now: NOW })!;
  assert.ok(!only999.includes("TA1"));
  assert.equal(
    buildAckInterchange(quiet, { interchangeControlNumber: 1, ack999: false }),
    undefined,
  );
});
