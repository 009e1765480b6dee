/**
 * An `sftpOutbox` destination whose `fileName` template has `{name}` but no `{id}`: the messages
 * split from one uploaded file get one name in the hosted user's `outbox/`. The second waits
 * until the counterparty has downloaded and removed the first (with OpenSSH's `sftp` through the
 * hosted server), instead of being taken for delivered; a file that holds exactly the message's
 * bytes (a rename whose answer was lost) still counts as in place.
 */

import assert from "node:assert/strict";
import { hostedOutboxSessions } from "../../../transports/sftp/local_folder.ts";
import { startDelivery } from "./delivery_fixture.ts";
import { startHosted } from "../../transports/sftp/server_fixture.ts";
import { waitFor } from "../../helpers/net.ts";
import { testNeeding } from "../../helpers/system_tools.ts";

/** The counterparty downloads and removes with OpenSSH's sftp client. */
const sshTest = testNeeding("sftp", "ssh-keygen");

const enc = new TextEncoder();

function oru(id: string, value: string): Uint8Array {
  return enc.encode(
    `MSH|^~\\&|LAB|L|E|E|20260101120000||ORU^R01|${id}|P|2.5\rPID|1||${id}\rOBX|1|NM|GLU||${value}`,
  );
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

sshTest(
  "sftpOutbox with a {name} template: the second message of one uploaded file waits until the counterparty removes the first, then is written",
  async () => {
    const h = await startHosted();
    const d = await startDelivery({
      target: { sessions: hostedOutboxSessions(h.root, "alice") },
      folder: "outbox",
      fileName: "{name}.{ext}",
    });
    const outbox = `${h.root}/alice/outbox`;
    try {
      // Equal lengths, different bytes: the case the old size check took for "already in place".
      const [one, two] = [oru("M1", "100"), oru("M2", "200")];
      assert.equal(one.length, two.length);
      const [m1, m2] = await d.enqueue(
        { bytes: one, fileName: "res.hl7" },
        { bytes: two, fileName: "res.hl7" },
      );
      await waitFor("the second's first attempt", async () => {
        const s = await d.actor.status();
        return s.state === "backoff" && (await d.logOf(m2!.id)).attemptCount === 1;
      });
      assert.equal((await d.logOf(m1!.id)).status, "SUCCEEDED");
      const log = await d.logOf(m2!.id);
      assert.equal(log.status, "PENDING");
      assert.equal(
        log.attempts[0]?.reason,
        `outbox/res.hl7 already holds another file (${one.length} bytes, not this message's); ` +
          `this message waits until that file is taken away. The fileName template ` +
          `"{name}.{ext}" gives more than one message this name: add {id} to make each name unique`,
      );
      assert.deepEqual(await names(outbox), ["res.hl7"], "a temporary file was left behind");

      // The counterparty downloads the first file and removes it.
      const first = await h.sftp(["cd outbox", "get res.hl7 first.hl7", "rm res.hl7"]);
      assert.equal(first.success, true, first.stderr);
      assert.deepEqual(await Deno.readFile(`${h.dir}/first.hl7`), one);

      d.clock.advance((await d.actor.status()).nextRetryAt! - d.clock.now());
      await waitFor("delivered", async () => (await d.logOf(m2!.id)).status === "SUCCEEDED");
      assert.equal(
        (await d.logOf(m2!.id)).attempts.at(-1)?.reason,
        `outbox/res.hl7 (${two.length} bytes)`,
      );
      const second = await h.sftp(["cd outbox", "get res.hl7 second.hl7"]);
      assert.equal(second.success, true, second.stderr);
      assert.deepEqual(await Deno.readFile(`${h.dir}/second.hl7`), two);
    } finally {
      await d.stop();
      await h.stop();
    }
  },
);

Deno.test(
  "sftpOutbox: a final name that holds exactly the message's bytes (a rename whose answer was lost) is already in place",
  async () => {
    const root = await Deno.makeTempDir({ prefix: "outbox-in-place-" });
    const d = await startDelivery({
      target: { sessions: hostedOutboxSessions(root, "lab") },
      folder: "outbox",
      fileName: "{name}.{ext}",
    });
    try {
      await d.actor.command("pause", "test", "set the scene first");
      const bytes = oru("M1", "100");
      const [record] = await d.enqueue({ bytes, fileName: "res.hl7" });
      await Deno.mkdir(`${root}/lab/outbox`, { recursive: true });
      await Deno.writeFile(`${root}/lab/outbox/res.hl7`, bytes);
      await d.actor.command("resume", "test", "go");
      await waitFor("delivered", async () => (await d.logOf(record!.id)).status === "SUCCEEDED");
      const log = await d.logOf(record!.id);
      assert.deepEqual(log.attempts.map((a) => a.outcome), ["SUCCEEDED"]);
      assert.equal(
        log.attempts[0]?.reason,
        `outbox/res.hl7 (${bytes.length} bytes), already in place`,
      );
      assert.deepEqual(await names(`${root}/lab/outbox`), ["res.hl7"]);
      assert.deepEqual(await Deno.readFile(`${root}/lab/outbox/res.hl7`), bytes);
    } finally {
      await d.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
);
