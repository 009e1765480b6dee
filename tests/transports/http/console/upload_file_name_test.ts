/**
 * `/console/upload` file names as the multipart form gives them, in bodies written by hand (no
 * client's encoding): a quoted name holding `=` and `;`, a `\"` escape, an RFC 5987 `filename*`
 * (preferred to `filename`), raw UTF-8, a Windows path escaped or not, and markup all come out
 * whole (then sanitised to letters, digits, `.`, `-`, `_`) on the page and in the audit. Before,
 * the form reader cut a name at its first `=` or `;` (`a=b;c.hl7` became `"a`) and ignored
 * `filename*`.
 * @module
 */

import assert from "node:assert/strict";
import { testNeeding } from "../../../helpers/system_tools.ts";
import { signIn, TOKEN } from "./fixture.ts";
import { filesEngine } from "./upload_fixture.ts";
import { tempDir } from "../../../helpers/temp.ts";

// The file-fed integration is the hosted SFTP folder's (the config needs a way in for it).
const keyedTest = testNeeding("ssh-keygen");

const hl7 = (id: string) =>
  `MSH|^~\\&|A|B|C|D|20260101000000||ADT^A01|${id}|P|2.5\rPID|1||1^^^H^MR||DOE^J\r`;

/** A multipart body written by hand: the file part's Content-Disposition parameters as given. */
function multipart(boundary: string, csrf: string, fileParams: string, content: string): string {
  return [
    `--${boundary}`,
    `Content-Disposition: form-data; name="_csrf"`,
    ``,
    csrf,
    `--${boundary}`,
    `Content-Disposition: form-data; name="integration"`,
    ``,
    `files`,
    `--${boundary}`,
    `Content-Disposition: form-data; name="file"; ${fileParams}`,
    `Content-Type: application/octet-stream`,
    ``,
    content,
    `--${boundary}--`,
    ``,
  ].join("\r\n");
}

keyedTest(
  "console upload: file names with = ; quotes, filename*, UTF-8 and Windows paths come out whole from the form, sanitised and inert",
  async () => {
    await using dir = await tempDir({ prefix: "console-upload-name-" });
    const e = await filesEngine(dir.path, "upload_name");
    try {
      const admin = await signIn(e.base, { token: TOKEN });
      // [the file part's parameters, the name shown (sanitised)]
      const cases: [string, string][] = [
        [`filename="a=b;c.hl7"`, "a_b_c.hl7"],
        [`filename="x\\"y;z=1.hl7"`, "x_y_z_1.hl7"],
        [`filename="fallback.hl7"; filename*=UTF-8''a%3Db%3Bc%20d.hl7`, "a_b_c_d.hl7"],
        [`filename*=utf-8'en'q%22r%3B.hl7; filename="other.hl7"`, "q_r_.hl7"],
        [`filename="na\u00efve=1.hl7"`, "na_ve_1.hl7"],
        [`filename="C:\\dir\\win=1.hl7"`, "win_1.hl7"],
        [`filename="C:\\\\dir\\\\esc;2.hl7"`, "esc_2.hl7"],
        [`filename="<img src=x onerror=alert(1)>;.hl7"`, "_img_src_x_onerror_alert_1_.hl7"],
      ];
      for (const [i, [params, shown]] of cases.entries()) {
        const boundary = `----hand${i}Boundary`;
        const r = await fetch(`${e.base}/console/upload`, {
          method: "POST",
          headers: {
            cookie: admin.cookie,
            "content-type": `multipart/form-data; boundary=${boundary}`,
          },
          body: new TextEncoder().encode(
            multipart(boundary, admin.csrf, params, hl7(`UPN${i}`)),
          ),
        });
        const html = await r.text();
        assert.equal(r.status, 200, `${params}: ${html}`);
        assert.equal(/<h2>(.*?) → files<\/h2>/.exec(html)?.[1], shown, params);
        assert.ok(!html.includes("<img"), "no markup from the name");
      }

      // The audit has each name whole, as shown.
      const audit = await fetch(`${e.base}/admin/audit`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const entries = (await audit.json()).entries as { action: string; message: string }[];
      const names = entries.filter((x) => x.action === "upload").map((x) => x.message.split(" ")[0])
        .sort();
      assert.deepEqual(names, cases.map(([, shown]) => shown).sort());
      const stored = (await e.engine.store.listLogs()).logs;
      assert.equal(stored.length, cases.length);
    } finally {
      await e.close();
    }
  },
);
