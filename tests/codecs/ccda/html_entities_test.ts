import assert from "node:assert/strict";
import { parseCcda, readCcda } from "../../../codecs/ccda/mod.ts";
import { CCD } from "./fixtures.ts";

/** The sample CCD with `replacement` in place of `original` (which must be there). */
function edited(original: string, replacement: string, xml = CCD): string {
  assert.ok(xml.includes(original), `the fixture holds ${original}`);
  return xml.replace(original, replacement);
}

/** The line (from 1) on which `needle` first appears in `xml`. */
function lineOf(xml: string, needle: string): number {
  return xml.slice(0, xml.indexOf(needle)).split("\n").length;
}

const PREFIX =
  "The document uses entities XML does not declare (a strict XML reader would refuse it); ";

Deno.test("ccda: HTML named entities in names and addresses read as their characters", () => {
  let xml = edited("<given>Eve</given>", "<given>J&eacute;r&ocirc;me</given>");
  xml = edited("<family>Everywoman</family>", "<family>O&rsquo;Brien&nbsp;</family>", xml);
  xml = edited("<city>Beaverton</city>", "<city>Sa&Scaron;a &amp; Beaverton</city>", xml);
  const d = parseCcda(xml).Patient.Demographics;
  assert.equal(d.FirstName, "Jérôme");
  assert.equal(d.LastName, "O\u2019Brien\u00a0");
  assert.equal(d.Address?.City, "SaŠa & Beaverton");
});

Deno.test("ccda: each undeclared entity is named once in Meta.Errors with the line it first appears on", () => {
  let xml = edited("<given>Eve</given>", "<given>J&eacute;r&ocirc;me</given>");
  xml = edited("<given>Marie</given>", "<given>Marie&nbsp;&eacute;</given>", xml);
  xml = edited("<name>Good Health Clinic</name>", "<name>Good&nbsp;Health Clinic</name>", xml);
  const line = lineOf(xml, "J&eacute;");
  const s = readCcda(xml);
  const text = PREFIX + `read as HTML: &eacute; (line ${line}), &ocirc; (line ${line}), ` +
    `&nbsp; (line ${line})`;
  assert.deepEqual(s.summary.Meta.Errors, [{ Text: text, Type: "warning", Module: "ccda" }]);
  assert.deepEqual(s.warnings, [text]);
});

Deno.test("ccda: an entity HTML does not know stays as text and is named as unknown", () => {
  let xml = edited("<given>Eve</given>", "<given>Eve&notaname;</given>");
  xml = edited("<family>Everywoman</family>", "<family>Everyw&ocirc;man&inr;</family>", xml);
  const s = readCcda(xml);
  const d = s.summary.Patient.Demographics;
  assert.equal(d.FirstName, "Eve&notaname;");
  // `&inr;` is in fast-xml-parser's own table but is no HTML name: it is unknown like any other.
  assert.equal(d.LastName, "Everywôman&inr;");
  const line = lineOf(xml, "&notaname;");
  assert.deepEqual(s.warnings, [
    PREFIX + `read as HTML: &ocirc; (line ${line}); ` +
    `unknown, kept as text: &notaname; (line ${line}), &inr; (line ${line})`,
  ]);
});

Deno.test("ccda: numeric references read as before, and an HTML name for < or & stays text", () => {
  let xml = edited("<given>Eve</given>", "<given>J&#233;r&#x00F4;me&#0;</given>");
  xml = edited("<family>Everywoman</family>", "<family>&LT;b&GT;Bold&AMP;Co</family>", xml);
  // Inside a comment an entity is no entity: neither read nor named.
  xml = edited("<recordTarget>", "<!-- J&eacute;r&ocirc;me --><recordTarget>", xml);
  const s = readCcda(xml);
  const d = s.summary.Patient.Demographics;
  assert.equal(d.FirstName, "Jérôme");
  assert.equal(d.LastName, "<b>Bold&Co");
  const line = lineOf(xml, "&LT;");
  assert.deepEqual(s.warnings, [
    PREFIX + `read as HTML: &LT; (line ${line}), &GT; (line ${line}), &AMP; (line ${line})`,
  ]);
  // Numeric references alone are declared by XML itself: no warning.
  const numeric = edited("<given>Eve</given>", "<given>J&#233;r&#x00F4;me</given>");
  assert.equal("Errors" in parseCcda(numeric).Meta, false);
});

Deno.test("ccda: a document using hundreds of unknown entity names gets one bounded warning", () => {
  const names = Array.from({ length: 300 }, (_, i) => `&zz${i};`).join(" ");
  const xml = edited("<name>Good Health Clinic</name>", `<name>${names}</name>`);
  const [warning, ...rest] = readCcda(xml).warnings;
  assert.equal(rest.length, 0);
  assert.ok(warning!.endsWith("&zz19; (line " + lineOf(xml, "&zz0;") + ") and 280 more"));
  assert.ok(warning!.length < 1000, `${warning!.length} characters`);
});
