/**
 * The hosted SFTP folder when a file is stored but its move to `archive/` fails: the file stays in
 * place, but no rescan (however long after, across a restart, after a rename by the client) stores
 * it again; the move is tried again quietly and done once `archive/` is usable.
 */

import assert from "node:assert/strict";
import { connectHosted, failure, hl7, put } from "./hosted_client.ts";
import { startHosted } from "./server_fixture.ts";
import { HostedSftpServer, type Upload } from "../../../transports/sftp/server.ts";
import { isTemporaryName } from "../../../codecs/files/mod.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";

/** The fixture makes its keys with ssh-keygen. */
const sshTest = testNeeding("ssh-keygen");

const decoder = new TextDecoder();

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.isDirectory ? `${e.name}/` : e.name);
  return out.sort();
}

function call(run: (cb: (error?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => run((error) => (error ? reject(error) : resolve())));
}

const mkdir = (sftp: ssh2.SFTPWrapper, path: string) => call((cb) => sftp.mkdir(path, cb));
const rename = (sftp: ssh2.SFTPWrapper, from: string, to: string) =>
  call((cb) => sftp.rename(from, to, cb));

sshTest(
  "hosted sftp never stores again a file it stored but could not archive, across rescans, a rename and a restart, and archives it once it can",
  async () => {
    const h = await startHosted();
    const c = await connectHosted(h);
    let again: HostedSftpServer | undefined;
    try {
      // archive/lab/ is a file: every move of a file from lab/ into it fails.
      const archive = `${h.root}/alice/archive`;
      await Deno.writeTextFile(`${archive}/lab`, "not a folder");
      await mkdir(c.sftp, "/lab");
      await put(c.sftp, "/lab/r.hl7", hl7("A1"));
      // Stored (the close says OK), left in place, logged once with the reason.
      assert.deepEqual(h.uploads.map((u) => u.path), ["/lab/r.hl7"]);
      assert.deepEqual(await files(`${h.root}/alice/lab`), ["r.hl7"]);
      // Rescans (long after any dedupe window: the recorder has none) neither store nor log it.
      await h.server.rescan();
      await h.server.rescan();
      assert.equal(h.uploads.length, 1, "a rescan stored the file again");
      const failed = h.lines("sftp-server.archive-failed");
      assert.equal(failed.length, 1, failed.join("\n"));
      assert.match(failed[0]!, /file=\/lab\/r\.hl7 reason=.*then="stored; left in place/);
      // Renamed by the client: still the same file.
      await rename(c.sftp, "/lab/r.hl7", "/lab/r2.hl7");
      await h.server.rescan();
      assert.equal(h.uploads.length, 1, "a rescan stored the renamed file again");
      // A new upload of that name is refused while the old file cannot be archived.
      await put(c.sftp, "/lab/r3.hl7", hl7("B1"));
      assert.equal(h.uploads.length, 2);
      const refused = await failure(put(c.sftp, "/lab/r3.hl7", hl7("B2")));
      assert.equal(
        refused.message,
        "not stored: a file of this name sent earlier was stored but could not be moved to archive/ yet; this upload was discarded, send it again later",
      );
      assert.equal(h.uploads.length, 2);
      assert.equal(h.lines("sftp-server.archive-failed").length, 2);
      await c.end();

      // A restart on the same folder remembers both.
      await h.server.stop();
      const uploads: Upload[] = [];
      const log = memoryLogger();
      again = await HostedSftpServer.start({
        hostname: "127.0.0.1",
        port: 0,
        hostKey: h.host.privateKey,
        root: `${h.dir}/root`,
        users: [{ name: "alice", publicKeys: [h.alice.publicKey], integration: "lab" }],
        maxConnectionsPerIp: 10,
        maxFailedLoginsPerIp: 5,
        maxFileBytes: 1024 * 1024,
        onUpload: (u) => {
          uploads.push(u);
          return Promise.resolve();
        },
        holdBack: isTemporaryName,
        log,
        rescanIntervalMs: 0,
      });
      await again.rescan();
      assert.equal(uploads.length, 0, "a rescan after the restart stored a file again");
      assert.ok(log.lines.some((l) => / sftp-server\.archive-pending .*files=2/.test(l)));
      // archive/ usable again: the next rescan moves them, quietly, without storing them.
      await Deno.remove(`${archive}/lab`);
      await again.rescan();
      assert.equal(uploads.length, 0);
      assert.deepEqual(await files(`${h.root}/alice/lab`), []);
      assert.deepEqual(await files(`${archive}/lab`), ["r2.hl7", "r3.hl7"]);
      assert.deepEqual(
        await Promise.all(
          ["r2", "r3"].map((n) => Deno.readTextFile(`${archive}/lab/${n}.hl7`)),
        ),
        [hl7("A1"), hl7("B1")],
      );
      assert.equal(log.lines.filter((l) => l.includes(" sftp-server.archived-late ")).length, 2);
      assert.ok(!log.lines.some((l) => l.includes(" sftp-server.archive-failed ")));
      assert.deepEqual(await files(`${h.dir}/root/.archive-pending`), []);
      // The same content sent again later is a new file: stored.
      const c2 = await connectHosted({ ...h, server: again });
      try {
        await put(c2.sftp, "/lab/r2.hl7", hl7("A1"));
      } finally {
        await c2.end();
      }
      assert.deepEqual(uploads.map((u) => decoder.decode(u.bytes)), [hl7("A1")]);
    } finally {
      await c.end();
      await again?.stop();
      await h.stop();
    }
  },
);
