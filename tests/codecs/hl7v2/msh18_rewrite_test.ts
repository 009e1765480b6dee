/**
 * MSH-18 rewriting for text sent as UTF-8 (codecs/hl7v2/msh18_rewrite.ts): the whole field is
 * replaced (repetitions included), a short MSH is padded in its own field separator, the fields
 * after MSH-18 and the other segments are kept; and the rule of when a label is needed.
 */

import assert from "node:assert/strict";
import {
  applyMsh18Edit,
  msh18Field,
  utf8LabelEdit,
  withUtf8Label,
} from "../../../codecs/hl7v2/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` rewritten as bytes, transcoded or not, as a deliverer would. */
function rewritten(text: string, transcoded: boolean): string {
  const bytes = encoder.encode(text);
  const nonAscii = bytes.length !== text.length;
  const edit = utf8LabelEdit(bytes, { transcoded, nonAscii });
  return edit === undefined ? text : decoder.decode(applyMsh18Edit(bytes, edit));
}

const MSH_17 = "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315||ADT^A01|C1|P|2.5.1|||||";

Deno.test("a transcoded message's MSH-18 is replaced and the fields after it kept", () => {
  const text = `${MSH_17}|8859/1|ENG|X^Y\rPID|1||42||MÜLLER^JOSÉ\r`;
  assert.equal(
    rewritten(text, true),
    `${MSH_17}|UNICODE UTF-8|ENG|X^Y\rPID|1||42||MÜLLER^JOSÉ\r`,
  );
});

Deno.test("MSH-18 with repetitions is replaced as a whole field", () => {
  const text = `${MSH_17}|8859/1~ISO IR87|ENG\rPID|1||42||MÜLLER\r`;
  assert.equal(rewritten(text, true), `${MSH_17}|UNICODE UTF-8|ENG\rPID|1||42||MÜLLER\r`);
  // The first repetition names UTF-8, the second does not: sent as it is, nothing to change.
  const utf8 = `${MSH_17}|UNICODE UTF-8~8859/1\rPID|1||42||MÜLLER\r`;
  assert.equal(rewritten(utf8, false), utf8);
  // Transcoded: the field becomes the one label.
  assert.equal(rewritten(utf8, true), `${MSH_17}|UNICODE UTF-8\rPID|1||42||MÜLLER\r`);
});

Deno.test("a field separator other than | is kept, in the padding too", () => {
  const text = "MSH#^~\\&#LAB#HOSP#ENGINE#CLINIC#20240315##ADT^A01#C1#P#2.5.1\rPID#1##42##ZOË\r";
  assert.equal(
    rewritten(text, true),
    "MSH#^~\\&#LAB#HOSP#ENGINE#CLINIC#20240315##ADT^A01#C1#P#2.5.1######UNICODE UTF-8\r" +
      "PID#1##42##ZOË\r",
  );
  const full = `${MSH_17.replaceAll("|", "#")}#8859/1#ENG\rPID#1##42##ZOË`;
  assert.equal(
    rewritten(full, true),
    `${MSH_17.replaceAll("|", "#")}#UNICODE UTF-8#ENG\rPID#1##42##ZOË`,
  );
});

Deno.test("an MSH with fewer than 18 fields is padded with empty fields before MSH-18", () => {
  const short = "MSH|^~\\&|LAB\rPID|1||42||MÜLLER";
  assert.equal(
    rewritten(short, false),
    `MSH|^~\\&|LAB${"|".repeat(15)}UNICODE UTF-8\rPID|1||42||MÜLLER`,
  );
  const f = msh18Field(`MSH|^~\\&|LAB${"|".repeat(15)}UNICODE UTF-8`)!;
  assert.equal(f.raw, "UNICODE UTF-8");
  assert.equal(f.pad, 0);
  // Only MSH-1 and MSH-2; LF line ends.
  assert.equal(
    rewritten("MSH|^~\\&\nPID|1||42||MÜLLER\n", false),
    `MSH|^~\\&${"|".repeat(16)}UNICODE UTF-8\nPID|1||42||MÜLLER\n`,
  );
  // Exactly 17 fields, the last one empty: no padding needed but the separator before MSH-18.
  assert.equal(
    rewritten(`${MSH_17}\rPID|1||42||MÜLLER`, false),
    `${MSH_17}|UNICODE UTF-8\rPID|1||42||MÜLLER`,
  );
});

Deno.test("pure ASCII needs no label unless MSH-18 is there to be wrong", () => {
  const ascii = "MSH|^~\\&|LAB|HOSP\rPID|1||42||MULLER\r";
  assert.equal(rewritten(ascii, false), ascii);
  assert.equal(rewritten(ascii, true), ascii, "a BOM removed from ASCII with no MSH-18");
  const latin = `${MSH_17}|8859/1\rPID|1||42||MULLER\r`;
  assert.equal(rewritten(latin, false), latin);
  assert.equal(rewritten(latin, true), `${MSH_17}|UNICODE UTF-8\rPID|1||42||MULLER\r`);
  const utf16 = `${MSH_17}|UNICODE UTF-16\rPID|1||42||MULLER\r`;
  assert.equal(rewritten(utf16, false), `${MSH_17}|UNICODE UTF-8\rPID|1||42||MULLER\r`);
});

Deno.test("UTF-8 sent as it is keeps an MSH-18 naming UTF-8 and gets one for anything else", () => {
  for (const label of ["UNICODE UTF-8", "UTF-8", "unicode-1-1-utf-8"]) {
    const text = `${MSH_17}|${label}\rPID|1||42||O’BRIEN^日本\r`;
    assert.equal(rewritten(text, false), text, label);
  }
  for (const label of ["", "ASCII", "8859/1", "not-a-charset", "UNICODE UTF-16"]) {
    const text = `${MSH_17}|${label}|ENG\rPID|1||42||O’BRIEN^日本\r`;
    assert.equal(
      rewritten(text, false),
      `${MSH_17}|UNICODE UTF-8|ENG\rPID|1||42||O’BRIEN^日本\r`,
      label,
    );
  }
});

Deno.test("withUtf8Label labels text as the bytes path does, and leaves text without MSH alone", () => {
  const text = `MSH|^~\\&|LAB\rPID|1||42||Zürich`;
  assert.equal(withUtf8Label(text), rewritten(text, false));
  assert.equal(withUtf8Label("PID|1||42||Zürich"), "PID|1||42||Zürich");
  // Leading blank lines before MSH, as decodeHl7's MSH-18 scan allows.
  assert.equal(
    withUtf8Label("\r\nMSH|^~\\&|A\rPID|1||É"),
    `\r\nMSH|^~\\&|A${"|".repeat(15)}UNICODE UTF-8\rPID|1||É`,
  );
});
