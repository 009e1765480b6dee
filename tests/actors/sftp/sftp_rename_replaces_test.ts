/**
 * An SFTP destination whose server's RENAME replaces an existing file instead of failing (S3- or
 * Azure-backed gateways, some Windows servers), with a `{name}` template: the second message of
 * one batch file must not replace the first's file the receiver has not fetched yet. It waits,
 * with the reason, until that file is taken away, as it does on a server whose RENAME fails.
 * The server is a local folder whose rename is made to replace.
 */

import assert from "node:assert/strict";
import { LocalFolderSessions } from "../../../transports/sftp/local_folder.ts";
import type { SftpSession } from "../../../actors/sftp/connector.ts";
import { startDelivery } from "./delivery_fixture.ts";
import { delegate } from "./poll_fixture.ts";
import { waitFor } from "../../helpers/net.ts";

const enc = new TextEncoder();

function oru(id: string): Uint8Array {
  return enc.encode(`MSH|^~\\&|LAB|L|E|E|20260101120000||ORU^R01|${id}|P|2.5\rPID|1||${id}\r`);
}

/** `real` with a RENAME that replaces its target, as some servers do. */
function replacingRename(real: SftpSession): SftpSession {
  const session = delegate(real);
  session.rename = async (from, to) => {
    if (await real.stat(to)) await real.remove(to);
    await real.rename(from, to);
  };
  return session;
}

Deno.test(
  "sftp destination with a {name} template on a server whose rename replaces: the second message of one file waits instead of replacing the first's file",
  async () => {
    const root = await Deno.makeTempDir({ prefix: "sftp-replace-" });
    const d = await startDelivery({
      target: { sessions: new LocalFolderSessions({ folder: root, describe: {} }) },
      folder: "out",
      fileName: "{name}.{ext}",
      session: replacingRename,
    });
    try {
      await Deno.mkdir(`${root}/out`);
      const [one, two] = [oru("M1"), oru("M2")];
      const [m1, m2] = await d.enqueue(
        { bytes: one, fileName: "batch.hl7" },
        { bytes: two, fileName: "batch.hl7" },
      );
      await waitFor("the second's first attempt", async () => {
        const s = await d.actor.status();
        return s.state === "backoff" && (await d.logOf(m2!.id)).attemptCount >= 1;
      });
      assert.equal((await d.logOf(m1!.id)).status, "SUCCEEDED");
      assert.deepEqual(await Deno.readFile(`${root}/out/batch.hl7`), one);
      const log = await d.logOf(m2!.id);
      assert.equal(log.status, "PENDING");
      assert.match(log.attempts[0]?.reason ?? "", /^out\/batch\.hl7 already holds another file/);
      assert.equal(d.lines("sftp.name-taken").length, 1);
      // The receiver fetches the first file: the second is written at its next attempt.
      await Deno.remove(`${root}/out/batch.hl7`);
      d.clock.advance(60_000);
      d.actor.notify();
      await waitFor(
        "the second written",
        async () => (await d.logOf(m2!.id)).status === "SUCCEEDED",
      );
      assert.deepEqual(await Deno.readFile(`${root}/out/batch.hl7`), two);
      const left = [];
      for await (const e of Deno.readDir(`${root}/out`)) left.push(e.name);
      assert.deepEqual(left, ["batch.hl7"], "no temporary file left behind");
    } finally {
      await d.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
);
