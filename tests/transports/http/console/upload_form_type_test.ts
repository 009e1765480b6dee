/**
 * `/console/upload` with a form whose media type is not written `multipart/form-data` (media
 * types are case-insensitive; the form reader takes that spelling only): refused 415 naming the
 * Content-Type, audited as a refusal, and nothing stored. Before, `Multipart/Form-Data` went the
 * raw way and the whole multipart envelope (boundaries, part headers) was stored as the file.
 * Also: hostile file names (`../`, control and bidi characters, 10 KB, only dots) end up as a
 * short sanitised name, never as markup.
 * @module
 */

import assert from "node:assert/strict";
import { testNeeding } from "../../../helpers/system_tools.ts";
import { signIn, TOKEN } from "./fixture.ts";
import { filesEngine } from "./upload_fixture.ts";
import { tempDir } from "../../../helpers/temp.ts";

// The file-fed integration is the hosted SFTP folder's (the config needs a way in for it).
const keyedTest = testNeeding("ssh-keygen");

const HL7 = "MSH|^~\\&|A|B|C|D|20260101000000||ADT^A01|UPF1|P|2.5\rPID|1||1^^^H^MR||DOE^J\r";

keyedTest(
  "console upload: a form typed other than multipart/form-data is refused 415 and nothing of it is stored; hostile names are sanitised",
  async () => {
    await using dir = await tempDir({ prefix: "console-upload-form-" });
    const e = await filesEngine(dir.path, "upload_form");
    try {
      const admin = await signIn(e.base, { token: TOKEN });
      const boundary = "rt11boundary";
      const envelope = `--${boundary}\r\nContent-Disposition: form-data; name="file"; ` +
        `filename="a.hl7"\r\n\r\n${HL7}\r\n--${boundary}--\r\n`;
      for (const type of [`Multipart/Form-Data; boundary=${boundary}`, "MULTIPART/MIXED"]) {
        const r = await fetch(`${e.base}/console/upload?integration=files&name=a.hl7`, {
          method: "POST",
          headers: { cookie: admin.cookie, "x-csrf-token": admin.csrf, "content-type": type },
          body: envelope,
        });
        const html = await r.text();
        assert.equal(r.status, 415, html);
        assert.ok(html.includes("is a form the upload does not read"), html);
      }
      assert.deepEqual((await e.engine.store.listLogs()).logs, [], "nothing stored");
      const audit = await fetch(`${e.base}/admin/audit`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const entries = (await audit.json()).entries as { action: string; ok: boolean }[];
      assert.deepEqual(entries.map((x) => [x.action, x.ok]), [["upload", false], [
        "upload",
        false,
      ]]);

      // Hostile names as the form's file name: a short name of safe characters, no markup.
      const names: [string, string][] = [
        ["../../etc/passwd", "passwd"],
        ["..\\..\\evil.hl7", "evil.hl7"],
        ["invoice\u202egpj.exe", "invoice_gpj.exe"],
        ["a\x01\x1b[31m.hl7", "a_31m.hl7"],
        ["....", "upload"],
        ["A".repeat(10_240), "A".repeat(128)],
      ];
      for (const [i, [name, shown]] of names.entries()) {
        const body = new FormData();
        body.set("_csrf", admin.csrf);
        body.set("integration", "files");
        body.set("file", new File([HL7.replace("UPF1", `UPF${i + 2}`)], name));
        const r = await fetch(`${e.base}/console/upload`, {
          method: "POST",
          headers: { cookie: admin.cookie },
          body,
        });
        const html = await r.text();
        assert.equal(r.status, 200, html);
        assert.equal(/<h2>(.*?) → files<\/h2>/.exec(html)?.[1], shown, name);
        assert.ok(!html.includes("<img"));
      }
    } finally {
      await e.close();
    }
  },
);
