/**
 * The console's multipart form reader on its own: Content-Disposition parameters read as
 * quoted-strings (`=`, `;` and `\"` inside), `filename*` preferred when it decodes (UTF-8 or
 * ISO-8859-1) and ignored when it does not, paths dropped, a preamble skipped; bodies without a
 * boundary, a close delimiter or a part name are not forms.
 * @module
 */

import assert from "node:assert/strict";
import {
  decodeExtValue,
  parseHeaderValue,
  parseMultipart,
} from "../../../../transports/http/console/multipart.ts";

const CT = "multipart/form-data; boundary=XyZ";

function body(...parts: string[]): Uint8Array {
  return new TextEncoder().encode(parts.map((p) => `--XyZ\r\n${p}\r\n`).join("") + "--XyZ--\r\n");
}

function fileName(params: string): string | undefined {
  const form = parseMultipart(
    body(`Content-Disposition: form-data; name="file"; ${params}\r\n\r\nMSH|`),
    CT,
  );
  const file = form?.get("file");
  return file instanceof File ? file.name : undefined;
}

Deno.test("multipart form reader: file names come out whole from quoted-strings and filename*", () => {
  assert.equal(fileName(`filename="a=b;c.hl7"`), "a=b;c.hl7");
  assert.equal(fileName(`filename="x\\"y.hl7"`), 'x"y.hl7');
  assert.equal(fileName(`filename="back\\\\slash.hl7"`), "slash.hl7");
  assert.equal(fileName(`filename="C:\\dir\\x.hl7"`), "x.hl7");
  assert.equal(fileName(`filename="/tmp/../y.hl7"`), "y.hl7");
  assert.equal(fileName(`filename=plain.hl7`), "plain.hl7");
  assert.equal(fileName(`filename="f.hl7"; filename*=UTF-8''a%3Db%3Bc%C3%A9.hl7`), "a=b;cé.hl7");
  assert.equal(fileName(`filename*=ISO-8859-1'de'%E9t%E9.hl7; filename="f.hl7"`), "été.hl7");
  // A filename* that does not decode (bad UTF-8, unknown charset, raw spaces): filename instead.
  assert.equal(fileName(`filename*=UTF-8''%FF.hl7; filename="f1.hl7"`), "f1.hl7");
  assert.equal(fileName(`filename*=KOI8-R''a.hl7; filename="f2.hl7"`), "f2.hl7");
  assert.equal(fileName(`filename*=UTF-8''a b.hl7; filename="f3.hl7"`), "f3.hl7");
  assert.equal(decodeExtValue("utf-8''%E2%82%AC"), "€");
  assert.equal(decodeExtValue("no-quotes"), undefined);
});

Deno.test("multipart form reader: fields, a preamble, an empty file, and what is not a form", () => {
  const preamble = new TextEncoder().encode("ignored preamble\r\n");
  const parts = body(
    `Content-Disposition: form-data; name="_csrf"\r\n\r\ntok;en=1`,
    `Content-Disposition: form-data; name="file"; filename=""\r\nContent-Type: text/plain\r\n\r\n`,
  );
  const form = parseMultipart(new Uint8Array([...preamble, ...parts]), CT)!;
  assert.equal(form.get("_csrf"), "tok;en=1");
  const file = form.get("file") as File;
  assert.equal(file.name, "");
  assert.equal(file.size, 0);
  assert.equal(file.type, "text/plain");
  const quotedBoundary = parseMultipart(parts, `multipart/form-data; boundary="XyZ"`);
  assert.equal(quotedBoundary?.get("_csrf"), "tok;en=1");

  assert.equal(parseMultipart(parts, "multipart/form-data"), undefined, "no boundary");
  const open = new TextEncoder().encode(
    `--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1`,
  );
  assert.equal(parseMultipart(open, CT), undefined, "no close delimiter");
  assert.equal(parseMultipart(body(`Content-Disposition: form-data\r\n\r\n1`), CT), undefined);
  assert.equal(
    parseMultipart(body(`Content-Disposition: attachment; name="a"\r\n\r\n1`), CT),
    undefined,
  );

  const h = parseHeaderValue(`Form-Data; NAME="a;b"; junk; filename = "c=d" ; name="second"`);
  assert.equal(h.type, "form-data");
  assert.equal(h.params.get("name"), "a;b", "the first of a repeated parameter");
  assert.equal(h.params.get("filename"), "c=d");
});
