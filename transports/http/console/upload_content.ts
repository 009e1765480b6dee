/**
 * Whether an uploaded file holds what the file intake will look for in it, and if not, why, in
 * the uploader's terms. The intake's own choice decides the format expected (its first bytes,
 * else its name's extension: `.hl7`, `.x12` / `.edi`, `.xml` / `.ccd` / `.cda` / `.ccda`):
 *
 * - HL7v2: at least one message as the intake splits it (a line beginning with `MSH`); without
 *   one the intake would store nothing and answer "0 messages".
 * - X12: an interchange (`ISA` first); without one the intake would store the file whole as X12.
 * - XML (C-CDA…): a document (`<` first, or a UTF-16 byte order mark); without one it would be
 *   stored whole as XML.
 *
 * Anything else (PDF, text, an unknown extension) travels whole, as the upload page says. A file
 * with some messages and some junk is not refused here: the intake stores the messages it finds
 * and logs the rest as batch warnings (`sftp.batch-warning`), as for a file polled over SFTP.
 * @module
 */

import { guessContentType } from "../../../codecs/files/mod.ts";
import { splitBatch } from "../../../codecs/hl7v2/mod.ts";
import { latin1Decode } from "../../../codecs/text/mod.ts";

/** How many leading bytes are looked at to describe what a file starts with. */
const HEAD = 512;

/**
 * Why `bytes` (uploaded as `fileName`, already sanitised) holds nothing of the format the intake
 * expects of it, as a sentence naming the file (`x.hl7 holds no HL7v2 message (it starts with
 * bytes 89 50 4E 47: not text?)`); undefined when it holds some.
 */
export function missingContent(fileName: string, bytes: Uint8Array): string | undefined {
  const type = guessContentType(fileName, bytes);
  const head = latin1Decode(bytes.subarray(0, HEAD)).replace(/^\u00ef\u00bb\u00bf/, "")
    .trimStart();
  if (type === "application/hl7-v2") {
    if (splitBatch(latin1Decode(bytes)).messages.length > 0) return undefined;
    const found = /^(FHS|BHS)/.test(head)
      ? "it has a batch envelope (FHS/BHS) but no MSH segment"
      : describe(bytes, head, "no line begins with MSH");
    return `${fileName} holds no HL7v2 message (${found})`;
  }
  if (type === "application/edi-x12") {
    if (head.startsWith("ISA")) return undefined;
    return `${fileName} holds no X12 interchange (${
      describe(bytes, head, "it does not begin with an ISA segment")
    })`;
  }
  if (type === "application/xml") {
    // A UTF-16 document (its byte order mark first) is left to the intake: it may be XML.
    if (head.startsWith("<") || /^(\xff\xfe|\xfe\xff)/.test(head)) return undefined;
    return `${fileName} holds no XML document such as a C-CDA (${
      describe(bytes, head, 'it does not begin with "<"')
    })`;
  }
  return undefined;
}

/** What a file that is not of the expected format holds: nothing, blank space, binary, or text. */
function describe(bytes: Uint8Array, head: string, textReason: string): string {
  if (bytes.length === 0) return "it is empty";
  if (head === "" && latin1Decode(bytes).trim() === "") return "it holds only blank space";
  if (binary(bytes.subarray(0, HEAD))) {
    const first = [...bytes.subarray(0, 4)].map((b) =>
      b.toString(16).toUpperCase().padStart(2, "0")
    )
      .join(" ");
    return `it starts with bytes ${first}: not text?`;
  }
  return `it is text, but ${textReason}`;
}

/** Control bytes other than tab, line feed, form feed and carriage return: not a text file. */
function binary(bytes: Uint8Array): boolean {
  return bytes.some((b) =>
    (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d) ||
    b === 0x7f
  );
}
