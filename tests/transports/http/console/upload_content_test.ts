/**
 * `/console/upload` of a file that holds nothing of the format the intake expects of it (PNG
 * bytes named `.hl7`, text with no MSH line, blank space, an empty file, PNG bytes named `.x12`,
 * the same posted raw): refused (422; 400 for an empty file) with a sentence naming the file,
 * the format expected and what was found, one `console.upload-refused` log line each, audited
 * as refusals, nothing stored. Before, they were answered 200 "0 messages, 0 stored" (or stored
 * whole). A file with a message and some junk, or any other file (`.txt`), is still taken.
 * @module
 */

import assert from "node:assert/strict";
import { testNeeding } from "../../../helpers/system_tools.ts";
import { signIn, TOKEN } from "./fixture.ts";
import { filesEngine } from "./upload_fixture.ts";
import { tempDir } from "../../../helpers/temp.ts";

// The file-fed integration is the hosted SFTP folder's (the config needs a way in for it).
const keyedTest = testNeeding("ssh-keygen");

const HL7 = "MSH|^~\\&|A|B|C|D|20260101000000||ADT^A01|UPC1|P|2.5\rPID|1||1^^^H^MR||DOE^J\r";
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49]);

keyedTest(
  "console upload: a file holding no HL7v2 / X12 message is refused naming the file, the format and what was found; logged, audited, nothing stored",
  async () => {
    await using dir = await tempDir({ prefix: "console-upload-content-" });
    const e = await filesEngine(dir.path, "upload_content");
    try {
      const admin = await signIn(e.base, { token: TOKEN });
      const upload = (name: string, bytes: Uint8Array<ArrayBuffer> | string) => {
        const body = new FormData();
        body.set("_csrf", admin.csrf);
        body.set("integration", "files");
        body.set("file", new File([bytes], name));
        return fetch(`${e.base}/console/upload`, {
          method: "POST",
          headers: { cookie: admin.cookie },
          body,
        });
      };
      const refusals: [string, Uint8Array<ArrayBuffer> | string, number, string][] = [
        [
          "x.hl7",
          PNG,
          422,
          "x.hl7 holds no HL7v2 message (it starts with bytes 89 50 4E 47: not text?)",
        ],
        [
          "notes.hl7",
          "hello, this is no HL7\nat all\n",
          422,
          "notes.hl7 holds no HL7v2 message (it is text, but no line begins with MSH)",
        ],
        [
          "blank.hl7",
          " \r\n\t\r\n",
          422,
          "blank.hl7 holds no HL7v2 message (it holds only blank space)",
        ],
        [
          "batch.hl7",
          "FHS|^~\\&|A\rBHS|^~\\&|A\rBTS|0\rFTS|1\r",
          422,
          "batch.hl7 holds no HL7v2 message (it has a batch envelope (FHS/BHS) but no MSH segment)",
        ],
        [
          "claims.x12",
          PNG,
          422,
          "claims.x12 holds no X12 interchange (it starts with bytes 89 50 4E 47: not text?)",
        ],
        ["empty.hl7", "", 400, "empty.hl7 is empty (0 bytes)"],
      ];
      for (const [name, bytes, status, reason] of refusals) {
        const r = await upload(name, bytes);
        const html = await r.text();
        assert.equal(r.status, status, `${name}: ${html}`);
        assert.ok(html.includes(`${reason}: nothing stored`), `${name}: ${html}`);
        assert.ok(!html.includes("data-upload-result"), name);
      }
      // The same refusal for the file's bytes posted raw.
      const raw = await fetch(`${e.base}/console/upload?integration=files&name=scan.hl7`, {
        method: "POST",
        headers: {
          cookie: admin.cookie,
          "x-csrf-token": admin.csrf,
          "content-type": "application/octet-stream",
        },
        body: PNG,
      });
      assert.equal(raw.status, 422);
      assert.ok((await raw.text()).includes("scan.hl7 holds no HL7v2 message (it starts with"));
      assert.deepEqual((await e.engine.store.listLogs()).logs, [], "nothing stored");

      // One log line per refusal, with the file and the reason.
      const logged = e.log.lines.filter((l) => l.includes("console.upload-refused"));
      assert.equal(logged.length, refusals.length + 1, logged.join("\n"));
      assert.ok(
        logged.some((l) => l.includes("file=x.hl7") && l.includes("bytes 89 50 4E 47")),
        logged.join("\n"),
      );

      // Audited as refusals, the reason once, after the file's name.
      const audit = await fetch(`${e.base}/admin/audit`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const entries = (await audit.json()).entries as {
        action: string;
        ok: boolean;
        message: string;
      }[];
      const uploads = entries.filter((x) => x.action === "upload");
      assert.equal(uploads.length, refusals.length + 1);
      assert.ok(uploads.every((x) => !x.ok), JSON.stringify(uploads));
      assert.ok(
        uploads.some((x) =>
          x.message === "x.hl7 holds no HL7v2 message (it starts with bytes 89 50 4E 47: " +
              "not text?): nothing stored"
        ),
        JSON.stringify(uploads),
      );

      // Still taken: a message after a junk line (the junk is a batch warning, as over SFTP),
      // and a file of any other kind, which travels whole.
      const mixed = await upload("mixed.hl7", `junk before\r${HL7}`);
      const mixedHtml = await mixed.text();
      assert.equal(mixed.status, 200, mixedHtml);
      assert.match(mixedHtml, /1 \(1 stored, 0 already stored\)/);
      const text = await upload("notes.txt", "hello, plain text\n");
      const textHtml = await text.text();
      assert.equal(text.status, 200, textHtml);
      assert.match(textHtml, /1 \(1 stored, 0 already stored\)/);
    } finally {
      await e.close();
    }
  },
);
