/**
 * The hosted SFTP folder's rescan, which offers again the files left in the users' folders (the
 * engine refused them, or it stopped): it reaches a file however deep the client put it, and when
 * a folder tree holds more entries than one rescan looks at, the next rescans go on where it
 * stopped, so every file is taken in once.
 */

import assert from "node:assert/strict";
import { connectHosted, failure, hl7, put } from "./hosted_client.ts";
import { startHosted } from "./server_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";

/** The fixture makes its keys with ssh-keygen. */
const sshTest = testNeeding("ssh-keygen");

function mkdir(sftp: ssh2.SFTPWrapper, path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    sftp.mkdir(path, (error) => (error ? reject(error) : resolve()))
  );
}

sshTest(
  "hosted sftp rescans take in a file the engine refused however deep the client put it",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    try {
      let refuse = true;
      h.setOnUpload((u) => {
        if (refuse) return Promise.reject(new Error("KV is down"));
        h.uploads.push(u);
        return Promise.resolve();
      });
      // 40 folders deep: accepted by the server like any other upload.
      let dir = "";
      for (let i = 1; i <= 40; i++) {
        dir += `/d${i}`;
        await mkdir(c.sftp, dir);
      }
      const refused = await failure(put(c.sftp, `${dir}/deep.hl7`, hl7("D1")));
      assert.match(refused.message, /^received, but the engine could not store it/);
      await put(c.sftp, "/d1/shallow.hl7", hl7("S1")).catch(() => {});
      refuse = false;
      await h.server.rescan();
      assert.deepEqual(h.uploads.map((u) => u.path).sort(), [`${dir}/deep.hl7`, "/d1/shallow.hl7"]);
      const archived: string[] = [];
      for await (const e of Deno.readDir(`${h.root}/alice/archive${dir}`)) archived.push(e.name);
      assert.deepEqual(archived, ["deep.hl7"]);
    } finally {
      await c.end();
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp rescans look at a bounded number of entries each and go on where the last stopped",
  async () => {
    const h = await startHosted({ maxRescanEntries: 10 });
    try {
      // Left from before (a crash): 30 files in 6 folders, 3 deep.
      const expected: string[] = [];
      for (let f = 0; f < 6; f++) {
        const dir = `/f${f}/g/h`;
        await Deno.mkdir(`${h.root}/alice${dir}`, { recursive: true });
        for (let i = 0; i < 5; i++) {
          await Deno.writeTextFile(`${h.root}/alice${dir}/m${i}.hl7`, hl7(`F${f}M${i}`));
          expected.push(`${dir}/m${i}.hl7`);
        }
      }
      await h.server.rescan();
      const first = h.uploads.length;
      assert.ok(first < 30, `the first rescan took all ${first} files: it was not capped`);
      const capped = h.lines("sftp-server.rescan-capped");
      assert.equal(capped.length, 1);
      assert.match(
        capped[0]!,
        /user=alice limit=10 .*the next rescans go on where this one stopped/,
      );
      for (let round = 0; round < 20 && h.uploads.length < 30; round++) await h.server.rescan();
      // Each taken once; one line for the pass, however many rescans it took.
      assert.deepEqual(h.uploads.map((u) => u.path).sort(), expected.sort());
      assert.equal(h.lines("sftp-server.rescan-capped").length, 1);
    } finally {
      await h.stop();
    }
  },
);
