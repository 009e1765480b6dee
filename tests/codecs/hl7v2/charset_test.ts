import assert from "node:assert/strict";
import {
  charsetLabel,
  decodeHl7,
  encodeHl7,
  Hl7CharsetError,
  parseHl7,
  readMsh18,
} from "../../../codecs/hl7v2/mod.ts";

function msh(charset: string): string {
  return `MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5|||AL|NE||${charset}`;
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

Deno.test("charsetLabel maps HL7 table 0211 names to WHATWG labels", () => {
  const cases: [string, string | undefined][] = [
    ["ASCII", "ascii"],
    ["ISO IR6", "ascii"],
    ["8859/1", "iso-8859-1"],
    ["8859/2", "iso-8859-2"],
    ["8859/5", "iso-8859-5"],
    ["8859/7", "iso-8859-7"],
    ["8859/9", "iso-8859-9"],
    ["8859/15", "iso-8859-15"],
    ["ISO IR100", "iso-8859-1"],
    ["ISO_IR 100", "iso-8859-1"],
    ["ISO IR144", "iso-8859-5"],
    ["ISO IR87", "iso-2022-jp"],
    ["UNICODE", "utf-8"],
    ["UNICODE UTF-8", "utf-8"],
    ["UTF-8", "utf-8"],
    ["unicode utf-8", "utf-8"],
    ["UNICODE UTF-16", "utf-16be"],
    ["GB 18030-2000", "gb18030"],
    ["KS X 1001", "euc-kr"],
    ["BIG-5", "big5"],
    ["windows-1250", "windows-1250"],
    ["shift_jis", "shift_jis"],
    ["EBCDIC-NOPE", undefined],
    ["", undefined],
  ];
  for (const [name, label] of cases) assert.equal(charsetLabel(name), label, name);
});

Deno.test("readMsh18 reads MSH-18 from raw bytes, first repetition, trimmed", () => {
  assert.equal(readMsh18(latin1(msh("8859/1") + "\rPID|1")), "8859/1");
  assert.equal(readMsh18(latin1(msh(" UNICODE UTF-8 ~ISO IR87") + "\r")), "UNICODE UTF-8");
  assert.equal(
    readMsh18(latin1("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPID|||||||||||||||||||X")),
    undefined,
  );
  assert.equal(readMsh18(latin1(`FHS|^~\\&\r\nBHS|^~\\&\r\n${msh("8859/2")}\r\n`)), "8859/2");
  assert.equal(readMsh18(new Uint8Array()), undefined);
});

Deno.test("decodeHl7 decodes a Latin-1 byte message declared 8859/1", () => {
  const bytes = latin1(msh("8859/1") + "\rPID|1||1||M\xdcLLER^JOS\xc9||19700101");
  const r = decodeHl7(bytes);
  assert.equal(r.charset, "iso-8859-1");
  assert.equal(r.source, "msh18");
  assert.equal(r.declared, "8859/1");
  assert.equal(parseHl7(r.text).get("PID-5"), "MÜLLER^JOSÉ");
});

Deno.test("decodeHl7 decodes other single-byte charsets named in MSH-18", () => {
  // 8859/5 Cyrillic: 0xB8 0xD2 0xD0 0xDD = "Иван"; 8859/7 Greek: 0xC1 = "Α".
  const cy = decodeHl7(
    Uint8Array.from([...latin1(msh("8859/5") + "\rPID|1||1||"), 0xb8, 0xd2, 0xd0, 0xdd]),
  );
  assert.ok(cy.text.endsWith("Иван"));
  const gr = decodeHl7(Uint8Array.from([...latin1(msh("ISO IR126") + "\rNTE|"), 0xc1]));
  assert.ok(gr.text.endsWith("Α"));
  assert.equal(gr.charset, "iso-8859-7");
});

Deno.test("decodeHl7 reads UTF-8 without MSH-18 as UTF-8", () => {
  const text = "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPID|1||1||MÜLLER^ZOË 李";
  const r = decodeHl7(new TextEncoder().encode(text));
  assert.equal(r.text, text);
  assert.equal(r.charset, "utf-8");
  assert.equal(r.source, "utf-8");
  assert.equal(r.declared, undefined);
});

Deno.test("decodeHl7 falls back to windows-1252 for non-UTF-8 bytes without MSH-18", () => {
  const bytes = latin1(
    "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rNTE|1||\x93quoted\x94 \x80 caf\xe9",
  );
  const r = decodeHl7(bytes);
  assert.equal(r.charset, "windows-1252");
  assert.equal(r.source, "fallback");
  assert.ok(r.text.endsWith("\u201cquoted\u201d € café"));
});

Deno.test("decodeHl7 uses a configurable fallback charset", () => {
  const bytes = latin1("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rNTE|1||\xe6");
  const r = decodeHl7(bytes, { fallbackCharset: "8859/2" });
  assert.equal(r.charset, "iso-8859-2");
  assert.ok(r.text.endsWith("ć"));
  assert.throws(
    () => decodeHl7(bytes, { fallbackCharset: "nope" }),
    (e) => e instanceof Hl7CharsetError && e.code === "UNKNOWN_CHARSET",
  );
});

Deno.test("decodeHl7 with unknown or ASCII MSH-18 detects UTF-8 then falls back", () => {
  const utf = new TextEncoder().encode(msh("MYSTERY") + "\rNTE|1||é");
  const a = decodeHl7(utf);
  assert.equal(a.source, "utf-8");
  assert.equal(a.declared, "MYSTERY");
  const lat = latin1(msh("ASCII") + "\rNTE|1||\xe9");
  const b = decodeHl7(lat);
  assert.equal(b.source, "fallback");
  assert.ok(b.text.endsWith("é"));
});

Deno.test("decodeHl7 honours a byte order mark and detects BOM-less UTF-16", () => {
  const text = msh("UNICODE") + "\rPID|1||1||Ω";
  const le = Uint8Array.from([0xff, 0xfe, ...encodeHl7(text, "utf-16le")]);
  assert.equal(decodeHl7(le).text, text);
  assert.equal(decodeHl7(le).source, "bom");
  const be = encodeHl7(text, "UNICODE UTF-16");
  assert.equal(decodeHl7(be).text, text);
  assert.equal(decodeHl7(be).charset, "utf-16be");
  const u8 = Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]);
  assert.equal(decodeHl7(u8).text, text);
});

Deno.test("encodeHl7 writes UTF-8 directly and single-byte charsets via a reverse map", () => {
  const text = "NTE|1||MÜLLER é";
  assert.deepEqual(encodeHl7(text, "UNICODE UTF-8"), new TextEncoder().encode(text));
  assert.deepEqual(encodeHl7(text, "8859/1"), latin1(text));
  assert.deepEqual(encodeHl7("€“”", "windows-1252"), Uint8Array.from([0x80, 0x93, 0x94]));
  assert.deepEqual(encodeHl7("Иван", "8859/5"), Uint8Array.from([0xb8, 0xd2, 0xd0, 0xdd]));
});

Deno.test("encodeHl7 without a charset follows the text's MSH-18", () => {
  const text = msh("8859/1") + "\rPID|1||1||JOSÉ";
  const bytes = encodeHl7(text);
  assert.equal(bytes.at(-1), 0xc9);
  assert.equal(decodeHl7(bytes).text, text);
  const plain = "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPID|1||1||JOSÉ";
  assert.deepEqual(encodeHl7(plain), new TextEncoder().encode(plain));
});

Deno.test("encodeHl7 round-trips a double-byte charset", () => {
  const text = msh("shift_jis") + "\rPID|1||1||山田^太郎";
  const bytes = encodeHl7(text);
  assert.ok(bytes.length < new TextEncoder().encode(text).length);
  assert.equal(decodeHl7(bytes).text, text);
});

Deno.test("encodeHl7 replaces unmappable characters with ? or throws on request", () => {
  assert.deepEqual(encodeHl7("a€😀b", "8859/1"), Uint8Array.from([0x61, 0x80, 0x3f, 0x62]));
  assert.deepEqual(encodeHl7("a李b", "8859/1"), latin1("a?b"));
  assert.throws(
    () => encodeHl7("a李b", "8859/1", { unmappable: "throw" }),
    (e) => e instanceof Hl7CharsetError && e.code === "UNMAPPABLE_CHARACTER",
  );
  assert.throws(
    () => encodeHl7("x", "NOPE"),
    (e) => e instanceof Hl7CharsetError && e.code === "UNKNOWN_CHARSET",
  );
  assert.throws(
    () => encodeHl7("x", "ISO IR87"),
    (e) => e instanceof Hl7CharsetError && e.code === "UNSUPPORTED_CHARSET",
  );
});

Deno.test("bytes -> text -> bytes is exact for every single-byte charset case", () => {
  for (const cs of ["8859/1", "8859/2", "8859/15", "windows-1252"]) {
    const body = latin1(msh(cs) + "\rNTE|1||");
    const bytes = Uint8Array.from([...body, 0xc0, 0xe9, 0xfc, 0xa4]);
    const { text } = decodeHl7(bytes);
    assert.deepEqual(encodeHl7(text), bytes, cs);
  }
});

Deno.test("decodeHl7 decodes by the first repetition of a repeated MSH-18", () => {
  // 0xE6 is "ć" in 8859/2 but "æ" in windows-1252, so the charset used is visible.
  const r = decodeHl7(latin1(msh("8859/2~UNICODE UTF-8") + "\rNTE|1||\xe6"));
  assert.equal(r.declared, "8859/2");
  assert.equal(r.charset, "iso-8859-2");
  assert.ok(r.text.endsWith("ć"));
});

Deno.test("decodeHl7 falls back instead of writing U+FFFD when MSH-18 says UTF-8 wrongly", () => {
  const ok = decodeHl7(new TextEncoder().encode(msh("UNICODE UTF-8") + "\rNTE|1||é"));
  assert.equal(ok.source, "msh18");
  assert.ok(ok.text.endsWith("é"));
  // Declared UTF-8, sent windows-1252: the bytes are kept as characters, none replaced.
  const bytes = latin1(msh("UNICODE UTF-8") + "\rNTE|1||JOS\xc9 \x80");
  const r = decodeHl7(bytes);
  assert.ok(!r.text.includes("\ufffd"));
  assert.ok(r.text.endsWith("JOSÉ €"));
  assert.equal(r.source, "fallback");
  assert.equal(r.declared, "UNICODE UTF-8");
  assert.equal(decodeHl7(bytes, { fallbackCharset: "8859/2" }).text.slice(-6, -2), "JOSÉ");
});

Deno.test("decodeHl7 ignores a UTF-16 MSH-18 on bytes that are one byte per character", () => {
  const text = msh("UNICODE UTF-16") + "\rPID|1||1||JOSE";
  const r = decodeHl7(latin1(text));
  assert.equal(r.text, text);
  assert.equal(r.declared, "UNICODE UTF-16");
  assert.equal(parseHl7(r.text).get("PID-5"), "JOSE");
  // Real UTF-16 bytes are still read as UTF-16 (found without MSH-18).
  assert.equal(decodeHl7(encodeHl7(text)).text, text);
});
