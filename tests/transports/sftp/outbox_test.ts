/**
 * A destination of kind `sftpOutbox`: the SFTP deliverer writes into a hosted user's `outbox/`
 * (temporary name, then rename) and the counterparty downloads it with OpenSSH's `sftp`.
 */

import assert from "node:assert/strict";
import { hostedOutboxSessions, LocalFolderSession } from "../../../transports/sftp/local_folder.ts";
import { startDelivery } from "../../actors/sftp/delivery_fixture.ts";
import { waitFor } from "../../helpers/net.ts";
import { startHosted } from "./server_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";

/** This test downloads with OpenSSH's sftp client. */
const sshTest = testNeeding("sftp", "ssh-keygen");

const enc = new TextEncoder();

sshTest(
  "sftpOutbox destination delivers into the hosted user's outbox for it to download",
  async () => {
    const h = await startHosted();
    const d = await startDelivery({
      target: { sessions: hostedOutboxSessions(h.root, "alice") },
      folder: "outbox",
      fileName: "{name}-{id}.{ext}",
    });
    try {
      const payloads = ["ACK-1", "ACK-2"].map((id) =>
        enc.encode(`MSH|^~\\&|ENGINE|HOSP|LAB|X|20240315||ACK|${id}|P|2.5.1\rMSA|AA|${id}`)
      );
      const records = await d.enqueue(
        { bytes: payloads[0]! },
        { bytes: payloads[1]!, fileName: "orders.hl7" },
      );
      await waitFor("delivered", async () => (await d.store.depth(d.actorId)) === 0);
      const names = records.map((r) => d.deliverer.fileNameFor(r));
      assert.equal(names[0], `${records[0]!.id}-${records[0]!.id}.hl7`);
      assert.equal(names[1], `orders-${records[1]!.id}.hl7`);
      const r = await h.sftp([
        "cd outbox",
        "ls -1",
        `get ${names[0]} a.hl7`,
        `get ${names[1]} b.hl7`,
      ]);
      assert.equal(r.success, true, r.stderr);
      assert.deepEqual(
        r.stdout.split("\n").filter((l) => l.endsWith(".hl7") && !l.startsWith("sftp>")).sort(),
        [...names].sort(),
      );
      assert.deepEqual(await Deno.readFile(`${h.dir}/a.hl7`), payloads[0]);
      assert.deepEqual(await Deno.readFile(`${h.dir}/b.hl7`), payloads[1]);
      const detail = (await d.actor.status()).detail as Record<string, unknown>;
      assert.equal(detail.hostedUser, "alice");
      // Nothing the client sees was taken in as an upload.
      assert.equal(h.uploads.length, 0);
    } finally {
      await d.stop();
      await h.stop();
    }
  },
);

Deno.test("local folder session keeps paths inside its folder and refuses to replace on rename", async () => {
  const dir = await Deno.makeTempDir({ prefix: "local-folder-" });
  try {
    await Deno.mkdir(`${dir}/home`);
    await Deno.writeTextFile(`${dir}/secret.txt`, "no");
    const s = new LocalFolderSession(await Deno.realPath(`${dir}/home`));
    await assert.rejects(s.read("../secret.txt", { maxBytes: 10 }), /permission-denied/);
    await assert.rejects(s.write("../x.txt", enc.encode("x")), /permission-denied/);
    await s.mkdir("a/b", { recursive: true });
    await s.write("a/b/.f.part", enc.encode("data"));
    await s.write("a/b/f", enc.encode("old!"));
    await assert.rejects(s.rename("a/b/.f.part", "a/b/f"), /already exists/);
    assert.equal((await s.stat("a/b/f"))?.size, 4);
    assert.equal(await s.stat("a/b/none"), undefined);
    assert.deepEqual((await s.list("a/b")).map((e) => e.name).sort(), [".f.part", "f"]);
    await assert.rejects(s.read("a/b/f", { maxBytes: 2 }), /more than the limit of 2/);
    s.close();
    await assert.rejects(s.stat("a/b/f"), /connection-lost/);
    assert.throws(() => hostedOutboxSessions(dir, "../etc"), /not a valid hosted user name/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
