import assert from "node:assert/strict";
import {
  type AckCode,
  buildAck,
  buildNakForUnparsable,
  formatHl7Timestamp,
  newControlId,
  parseErrorCondition,
  parseHl7,
  tryParseHl7,
} from "../../../codecs/hl7v2/mod.ts";
import { ADT_A01, MDM_T02 } from "./fixtures.ts";

const NOW = new Date(Date.UTC(2024, 4, 6, 7, 8, 9));
const CODES: AckCode[] = ["AA", "AE", "AR", "CA", "CE", "CR"];

Deno.test("buildAck fills MSH and MSA for all six codes", () => {
  const original = parseHl7(ADT_A01);
  for (const code of CODES) {
    const ack = buildAck(original, { code, controlId: "ACK1", now: NOW });
    assert.equal(ack.get("MSH-3"), "ENGINE", code);
    assert.equal(ack.get("MSH-4"), "CLINIC");
    assert.equal(ack.get("MSH-5"), "EPIC");
    assert.equal(ack.getRaw("MSH-6"), "HOSP^1.2.3&ISO");
    assert.equal(ack.get("MSH-7"), "20240506070809+0000");
    assert.equal(ack.get("MSH-9"), "ACK^A01^ACK");
    assert.equal(ack.controlId, "ACK1");
    assert.equal(ack.processingId, "P");
    assert.equal(ack.version, "2.5.1");
    assert.equal(ack.charset, "UNICODE UTF-8");
    assert.equal(ack.get("MSA-1"), code);
    assert.equal(ack.get("MSA-2"), "MSG00001");
    const negative = code !== "AA" && code !== "CA";
    assert.equal(ack.count("ERR"), negative ? 1 : 0, code);
    if (negative) {
      assert.equal(ack.get("ERR-3"), "207^Application internal error^HL70357");
      assert.equal(ack.get("ERR-4"), "E");
    }
  }
});

Deno.test("buildAck writes ERR-2, ERR-3, ERR-4 and an escaped ERR-8 for an error", () => {
  const ack = buildAck(parseHl7(ADT_A01), {
    code: "AE",
    error: { code: "101", severity: "E", text: "PID-3 missing | bad ^ id", location: "PID-3[1].1" },
    now: NOW,
  });
  assert.equal(ack.get("ERR-2"), "PID^1^3^1^1");
  assert.equal(ack.get("ERR-3"), "101^Required field missing^HL70357");
  assert.equal(ack.get("ERR-4"), "E");
  assert.equal(ack.getRaw("ERR-8"), "PID-3 missing \\F\\ bad \\S\\ id");
  assert.equal(ack.get("ERR-8"), "PID-3 missing | bad ^ id");
  assert.equal(ack.get("MSA-3"), "PID-3 missing | bad ^ id");
});

Deno.test("buildAck writes one ERR per error, warnings included on AA", () => {
  const ack = buildAck(parseHl7(ADT_A01), {
    code: "AA",
    text: "accepted with warnings",
    error: [
      { severity: "W", text: "first", code: "103" },
      { severity: "I", text: "second", location: "ZPI^1^2" },
    ],
  });
  assert.equal(ack.count("ERR"), 2);
  assert.equal(ack.get("ERR[1]-4"), "W");
  assert.equal(ack.get("ERR[2]-4"), "I");
  assert.equal(ack.get("ERR[2]-2"), "ZPI^1^2");
  assert.equal(ack.get("MSA-3"), "accepted with warnings");
});

Deno.test("buildAck writes ERR-1 (ELD) for versions before 2.5", () => {
  const ack = buildAck(parseHl7(MDM_T02), {
    code: "AE",
    error: { code: "102", text: "bad date", location: "TXA-4" },
  });
  assert.equal(ack.version, "2.3.1");
  assert.equal(ack.get("ERR-1"), "TXA^1^4^102&Data type error&HL70357");
  assert.equal(ack.get("ERR-8"), undefined);
});

Deno.test("buildAck uses a fresh control ID and the current time by default", () => {
  const original = parseHl7(ADT_A01);
  const a = buildAck(original, { code: "AA" });
  const b = buildAck(original, { code: "AA" });
  assert.notEqual(a.controlId, b.controlId);
  assert.ok((a.controlId ?? "").length <= 20);
  assert.match(a.get("MSH-7") ?? "", /^\d{14}\+0000$/);
  assert.ok(tryParseHl7(a.encode()).ok);
});

Deno.test("buildAck keeps the original's delimiters", () => {
  const m = parseHl7("MSH#*@!%#A#B#C#D#2024##ADT*A04#X1#P#2.4\rPID#1");
  const ack = buildAck(m, { code: "AR", text: "no # here", now: NOW });
  assert.ok(ack.encode().startsWith("MSH#*@!%#C#D#A#B#20240506070809+0000##ACK*A04*ACK#"));
  assert.equal(ack.get("MSA-3"), "no # here");
  assert.equal(ack.getRaw("MSA-3"), "no !F! here");
});

Deno.test("buildNakForUnparsable answers AR using what can be read of a broken MSH", () => {
  const raw =
    "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|2024||ORU^R01|CTRL9|P|2.4\rOBX|1|bad segment\rp1d|x";
  assert.equal(tryParseHl7(raw).ok, false);
  const nak = buildNakForUnparsable({ reason: "Invalid segment p1d", raw, now: NOW });
  assert.equal(nak.get("MSA-1"), "AR");
  assert.equal(nak.get("MSA-2"), "CTRL9");
  assert.equal(nak.get("MSH-3"), "ENGINE");
  assert.equal(nak.get("MSH-5"), "LAB");
  assert.equal(nak.get("MSH-9"), "ACK^R01^ACK");
  assert.equal(nak.version, "2.4");
  // The input is the sender's fault: 100 by default, never 207 (application internal error).
  assert.equal(nak.get("ERR-1.4.1"), "100");
  assert.equal(nak.get("ERR-1.4.2"), "Segment sequence error");
});

Deno.test("parseErrorCondition names each parse failure with table 0357 and where", () => {
  const cases: [string, string, string][] = [
    ["", "100", "MSH"],
    ["PID|1\rMSH|^~\\&|A|B|C|D|2024||ADT^A01|X|P|2.5.1", "100", "MSH"],
    ["MSH|", "101", "MSH-2"],
    ["MSH|^~\\&|A|B|C|D|2024", "101", "MSH"],
    ["MSH|^^\\&|A|B|C|D|2024||ADT^A01|X|P|2.5.1", "102", "MSH-2"],
    ["MSH|abcd|A|B|C|D|2024||ADT^A01|X|P|2.5.1", "102", "MSH-2"],
    ["MSH|^~\\&|A|B|C|D|2024||ADT^A01|X|P|2.5.1\rp1d|x", "100", "MSH"],
    ["MSH|^~\\&|A|B|C|D|2024||ADT^A01|X|P|2.5.1\rMSH|^~\\&|A", "100", "MSH"],
  ];
  for (const [text, code, location] of cases) {
    const parsed = tryParseHl7(text);
    assert.ok(!parsed.ok, text);
    assert.deepEqual(parseErrorCondition(parsed.error.code), { code, location }, text);
    const nak = buildNakForUnparsable({
      reason: parsed.error.message,
      raw: text,
      errorCode: code,
      errorLocation: location,
    });
    assert.equal(nak.get("ERR-3.1"), code, text);
    assert.equal(nak.getRaw("ERR-2.1"), "MSH", text);
  }
});

Deno.test("buildNakForUnparsable works with delimiters that cannot be used", () => {
  const raw = "MSH|^^\\&|LAB|HOSP|ENGINE|CLINIC|2024||ORU^R01|ID^9|P";
  const nak = buildNakForUnparsable({
    reason: "Duplicate delimiter | in MSH-2",
    raw,
    code: "CR",
    errorCode: "203",
    now: NOW,
  });
  assert.equal(nak.get("MSA-1"), "CR");
  assert.equal(nak.get("MSA-2"), "ID^9"); // copied as text, escaped with our delimiters
  assert.equal(nak.get("ERR-3"), "203^Unsupported version id^HL70357");
  assert.equal(nak.get("ERR-8"), "Duplicate delimiter | in MSH-2");
  assert.equal(nak.version, "2.5.1");
});

Deno.test("buildNakForUnparsable works with nothing at all", () => {
  for (const raw of [undefined, "", "garbage\u0000", "MSH", "MSH\r"]) {
    const nak = buildNakForUnparsable({
      reason: "No MSH",
      ...(raw === undefined ? {} : { raw }),
      sendingApplication: "ENGINE",
      controlId: "N1",
      now: NOW,
    });
    assert.equal(nak.get("MSA-1"), "AR");
    assert.equal(nak.get("MSA-2"), "");
    assert.equal(nak.get("MSH-3"), "ENGINE");
    assert.equal(nak.get("MSH-9"), "ACK");
    assert.equal(nak.controlId, "N1");
    assert.equal(nak.get("ERR-8"), "No MSH");
  }
});

Deno.test("formatHl7Timestamp and newControlId produce HL7-friendly values", () => {
  assert.equal(formatHl7Timestamp(NOW), "20240506070809+0000");
  const ids = new Set(Array.from({ length: 500 }, newControlId));
  assert.equal(ids.size, 500);
  for (const id of ids) assert.match(id, /^[0-9A-Z]{1,20}$/);
});

Deno.test("formatHl7Timestamp gives each second its own text, the same second the same", () => {
  const t = Date.UTC(2024, 4, 6, 7, 8, 9);
  // Within one second, across seconds (forward and back) and across a year: each its own text.
  assert.equal(formatHl7Timestamp(new Date(t + 999)), "20240506070809+0000");
  assert.equal(formatHl7Timestamp(new Date(t + 1000)), "20240506070810+0000");
  assert.equal(formatHl7Timestamp(new Date(t)), "20240506070809+0000");
  assert.equal(formatHl7Timestamp(new Date(Date.UTC(2031, 0, 2, 3, 4, 5))), "20310102030405+0000");
  assert.equal(formatHl7Timestamp(new Date(t + 1)), "20240506070809+0000");
  // An invalid date is not remembered as a second.
  assert.notEqual(formatHl7Timestamp(new Date(NaN)), "20240506070809+0000");
  assert.equal(formatHl7Timestamp(new Date(t)), "20240506070809+0000");
});

Deno.test("buildAck for a message without MSH-9 or MSH-10 writes MSH-9 ACK and an empty MSA-2", () => {
  const m = parseHl7("MSH|^~\\&|A|B|C|D|2024||||P|2.5\rPID|1");
  const ack = buildAck(m, { code: "AE", text: "no id", controlId: "K1", now: NOW });
  assert.equal(ack.get("MSH-9"), "ACK");
  assert.equal(ack.get("MSA-1"), "AE");
  assert.equal(ack.get("MSA-2"), "");
  assert.equal(ack.get("MSA-3"), "no id");
  assert.equal(ack.get("MSH-3"), "C");
  assert.equal(ack.get("MSH-5"), "A");
  const noEvent = buildAck(parseHl7("MSH|^~\\&|A|B|C|D|2024||ADT|X7|P|2.5"), { code: "CA" });
  assert.equal(noEvent.get("MSH-9"), "ACK");
  assert.equal(noEvent.get("MSA-2"), "X7");
});

Deno.test("buildAck in enhanced mode puts the error in ERR for CE and CR", () => {
  const original = parseHl7(ADT_A01);
  const ce = buildAck(original, {
    code: "CE",
    error: { code: "200", text: "ADT not handled", location: "MSH-9" },
    now: NOW,
  });
  assert.equal(ce.get("MSA-1"), "CE");
  assert.equal(ce.get("MSA-2"), "MSG00001");
  assert.equal(ce.get("ERR-2"), "MSH^1^9^1");
  assert.equal(ce.get("ERR-3"), "200^Unsupported message type^HL70357");
  assert.equal(ce.get("ERR-8"), "ADT not handled");
  const cr = buildAck(original, { code: "CR", text: "queue full", now: NOW });
  assert.equal(cr.get("ERR-3.1"), "207");
  assert.equal(cr.get("ERR-8"), "queue full");
  assert.equal(cr.get("MSA-3"), "queue full");
});

Deno.test("buildAck keeps an error location that is not a path inside ERR-2", () => {
  const original = parseHl7(ADT_A01);
  for (const location of ["PID|3", "line 2\rPID", "seg\nfield", "PID^1^3^1"]) {
    const ack = buildAck(original, { code: "AE", error: { text: "bad", location }, now: NOW });
    assert.deepEqual(ack.segmentNames(), ["MSH", "MSA", "ERR"], location);
    assert.equal(ack.get("ERR-3.1"), "207", location);
    assert.equal(ack.get("ERR-8"), "bad", location);
  }
  const raw = buildAck(original, { code: "AE", error: { text: "x", location: "PID^1^3^1" } });
  assert.equal(raw.getRaw("ERR-2"), "PID^1^3^1"); // already-encoded ERL stays verbatim
  const esc = buildAck(original, { code: "AE", error: { text: "x", location: "PID|3" } });
  assert.equal(esc.get("ERR-2"), "PID|3"); // unsafe text is escaped, so it reads back
});
