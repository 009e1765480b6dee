/**
 * An SFTP destination with a `{name}` template whose final name is taken already: the message is
 * settled without uploading its payload (it waits while another file holds the name, and is
 * "already in place" when the name holds its own bytes), instead of uploading it whole under a
 * temporary name at every retry only to find the name taken at the rename. Against Debian's
 * OpenSSH sshd, whose `sftp-server` logs every open (with its flags) and close (with the bytes
 * written) it served: what the receiver saw, not what the deliverer says it asked.
 */

import assert from "node:assert/strict";
import { SftpStatusError } from "../../../actors/sftp/connector.ts";
import { deliveryKey, startDelivery, withoutAttempt } from "./delivery_fixture.ts";
import { delegate } from "./poll_fixture.ts";
import { waitFor } from "../../helpers/net.ts";
import { type Sshd, startSshd } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";

/** These tests drive sshd, ssh-keygen as a real peer. */
const sshTest = testNeeding("sshd", "ssh-keygen");

const enc = new TextEncoder();

/** An ORU whose OBX carries `size` bytes of text: a payload worth not uploading for nothing. */
function oru(id: string, size: number): Uint8Array {
  return enc.encode(
    `MSH|^~\\&|LAB|L|E|E|20260101120000||ORU^R01|${id}|P|2.5\rPID|1||${id}\r` +
      `OBX|1|TX|NOTE||${"x".repeat(size)}\r`,
  );
}

async function withSshd(fn: (sshd: Sshd) => Promise<void>): Promise<void> {
  const sshd = await startSshd({
    authorizedKeys: [(await deliveryKey()).publicKey],
    sftpLog: true,
  });
  try {
    await Deno.mkdir(`${sshd.files}/out`);
    await fn(sshd);
  } finally {
    await sshd.stop();
  }
}

function target(sshd: Sshd) {
  return { port: sshd.port, user: sshd.user, hostKeyFingerprint: sshd.hostKey.fingerprint };
}

/** The files the receiver's SFTP server opened for writing, and the bytes written at close. */
async function writes(sshd: Sshd): Promise<string[]> {
  return (await sshd.sftpLog())
    .filter((l) => /^open .* flags WRITE/.test(l) || /^close .* written [1-9]/.test(l))
    .map((l) => withoutAttempt(l.replace(/ mode \d+$/, "")));
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

sshTest(
  "sftp destination with a {name} template whose name is taken: the retries wait without uploading the payload, and it is uploaded once when the name is free",
  async () => {
    await withSshd(async (sshd) => {
      const other = oru("OTHER", 100);
      await Deno.writeFile(`${sshd.files}/out/res.hl7`, other);
      const d = await startDelivery({ target: target(sshd), fileName: "{name}.{ext}" });
      try {
        const bytes = oru("M1", 256 * 1024);
        const [record] = await d.enqueue({ bytes, fileName: "res.hl7" });
        const attempted = async (n: number) => {
          await waitFor(`attempt ${n}`, async () => {
            const s = await d.actor.status();
            return s.state === "backoff" && (await d.logOf(record!.id)).attemptCount === n &&
              d.clock.pending === 1;
          });
        };
        for (const n of [1, 2, 3]) {
          await attempted(n);
          if (n < 3) d.clock.advance((await d.actor.status()).nextRetryAt! - d.clock.now());
        }
        const log = await d.logOf(record!.id);
        assert.equal(log.status, "PENDING");
        for (const a of log.attempts) {
          assert.match(
            a.reason ?? "",
            new RegExp(`^out/res\\.hl7 already holds another file \\(${other.length} bytes`),
          );
        }
        assert.equal(d.lines("sftp.name-taken").length, 3);
        // Three attempts, and not one byte of the payload sent: nothing opened for writing.
        assert.deepEqual(await writes(sshd), []);
        assert.deepEqual(await names(`${sshd.files}/out`), ["res.hl7"]);
        assert.deepEqual(await Deno.readFile(`${sshd.files}/out/res.hl7`), other);

        // The receiver takes its file away: the next attempt uploads the message, once.
        await Deno.remove(`${sshd.files}/out/res.hl7`);
        d.clock.advance((await d.actor.status()).nextRetryAt! - d.clock.now());
        await waitFor("delivered", async () => (await d.logOf(record!.id)).status === "SUCCEEDED");
        assert.equal(
          (await d.logOf(record!.id)).attempts.at(-1)?.reason,
          `out/res.hl7 (${bytes.length} bytes)`,
        );
        assert.deepEqual(await writes(sshd), [
          `open "out/.res.hl7.part" flags WRITE,CREATE,TRUNCATE`,
          `close "out/.res.hl7.part" bytes read 0 written ${bytes.length}`,
        ]);
        assert.deepEqual(await names(`${sshd.files}/out`), ["res.hl7"]);
        assert.deepEqual(await Deno.readFile(`${sshd.files}/out/res.hl7`), bytes);
      } finally {
        await d.stop();
      }
    });
  },
);

sshTest(
  "sftp destination with a {name} template whose name holds this message's bytes: already in place, without uploading the payload",
  async () => {
    await withSshd(async (sshd) => {
      const bytes = oru("M1", 64 * 1024);
      await Deno.writeFile(`${sshd.files}/out/res.hl7`, bytes);
      const d = await startDelivery({ target: target(sshd), fileName: "{name}.{ext}" });
      try {
        const [record] = await d.enqueue({ bytes, fileName: "res.hl7" });
        await waitFor("delivered", async () => (await d.logOf(record!.id)).status === "SUCCEEDED");
        const log = await d.logOf(record!.id);
        assert.deepEqual(log.attempts.map((a) => a.outcome), ["SUCCEEDED"]);
        assert.equal(
          log.attempts[0]?.reason,
          `out/res.hl7 (${bytes.length} bytes), already in place`,
        );
        assert.deepEqual(await writes(sshd), []);
        assert.deepEqual(await names(`${sshd.files}/out`), ["res.hl7"]);
        assert.deepEqual(await Deno.readFile(`${sshd.files}/out/res.hl7`), bytes);
      } finally {
        await d.stop();
      }
    });
  },
);

// A guard of the look before the upload (the old code made none): a server refusing it must not
// hold the delivery; the checks at the rename decide, as without that look.
sshTest(
  "sftp destination with a {name} template: a look at the final name refused before the upload does not hold the delivery",
  async () => {
    await withSshd(async (sshd) => {
      let written = false;
      let refused = 0;
      const d = await startDelivery({
        target: target(sshd),
        fileName: "{name}.{ext}",
        session: (real) => {
          const spy = delegate(real);
          spy.write = (path, bytes, o) => {
            written = true;
            return real.write(path, bytes, o);
          };
          spy.stat = (path) => {
            if (written) return real.stat(path);
            refused++;
            return Promise.reject(new SftpStatusError(`stat ${path}`, "permission-denied"));
          };
          return spy;
        },
      });
      try {
        const bytes = oru("M1", 1024);
        const [record] = await d.enqueue({ bytes, fileName: "res.hl7" });
        await waitFor("delivered", async () => (await d.logOf(record!.id)).status === "SUCCEEDED");
        const log = await d.logOf(record!.id);
        assert.deepEqual(log.attempts.map((a) => a.outcome), ["SUCCEEDED"]);
        assert.equal(log.attempts[0]?.reason, `out/res.hl7 (${bytes.length} bytes)`);
        assert.equal(refused, 1, "the look before the upload was made, and refused");
        assert.deepEqual(await Deno.readFile(`${sshd.files}/out/res.hl7`), bytes);
      } finally {
        await d.stop();
      }
    });
  },
);
