/**
 * SFTP delivery against Debian's OpenSSH sshd: a DeliveryActor with an SftpDeliverer on real KV,
 * driven by a ManualClock. What the receiver saw comes from OpenSSH's `sftp-server` log of every
 * open, close and rename it served.
 */

import assert from "node:assert/strict";
import { delegate } from "./poll_fixture.ts";
import { deliveryKey, startDelivery, withoutAttempt } from "./delivery_fixture.ts";
import { waitFor } from "../../helpers/net.ts";
import { type Sshd, startSshd, startTcpProxy } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
/** These tests drive sshd, ssh-keygen as a real peer. */
const sshTest = testNeeding("sshd", "ssh-keygen");

const enc = new TextEncoder();

function adt(id: string): Uint8Array {
  return enc.encode(`MSH|^~\\&|A|B|C|D|20240315||ADT^A01|${id}|P|2.5.1\rPID|1||${id}`);
}

async function withSshd(
  fn: (sshd: Sshd) => Promise<void>,
  options: { sftpLog?: boolean } = {},
): Promise<void> {
  const sshd = await startSshd({ authorizedKeys: [(await deliveryKey()).publicKey], ...options });
  try {
    await fn(sshd);
  } finally {
    await sshd.stop();
  }
}

function target(sshd: Sshd, port = sshd.port) {
  return { port, user: sshd.user, hostKeyFingerprint: sshd.hostKey.fingerprint };
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

sshTest(
  "sftp deliverer writes a temporary name then renames it, in FIFO order on one session",
  async () => {
    await withSshd(async (sshd) => {
      const out = `${sshd.files}/out`;
      await Deno.mkdir(out);
      const ops: string[] = [];
      const d = await startDelivery({
        target: target(sshd),
        session: (real) => {
          const spy = delegate(real);
          spy.write = (path, bytes, o) => (ops.push(`write ${path}`), real.write(path, bytes, o));
          spy.rename = (from, to) => (ops.push(`rename ${from} ${to}`), real.rename(from, to));
          return spy;
        },
      });
      try {
        const records = await d.enqueue(
          ...["F1", "F2", "F3", "F4", "F5"].map((id) => ({ bytes: adt(id) })),
        );
        const finals = records.map((r) => d.deliverer.fileNameFor(r));
        for (const [i, name] of finals.entries()) {
          assert.match(name, new RegExp(`^\\d{8}T\\d{6}\\.\\d{3}Z-${records[i]!.id}\\.hl7$`));
        }
        await waitFor("all delivered", async () => (await d.store.depth(d.actorId)) === 0);
        assert.deepEqual(await names(out), [...finals].sort());
        for (const [i, name] of finals.entries()) {
          assert.deepEqual(await Deno.readFile(`${out}/${name}`), adt(`F${i + 1}`));
          const log = await d.logOf(records[i]!.id);
          assert.equal(log.status, "SUCCEEDED");
          assert.equal(log.attempts[0]?.reason, `out/${name} (${adt("F1").length} bytes)`);
        }
        // What the deliverer asked: each file under its temporary name, then renamed, in order.
        assert.deepEqual(
          ops.map(withoutAttempt),
          finals.flatMap((n) => [`write out/.${n}.part`, `rename out/.${n}.part out/${n}`]),
        );
        // What the receiver's SFTP server served, in its own log: each file opened under its
        // temporary name, closed with all its bytes written, and only then renamed, in order;
        // nothing ever opened under a final name.
        const served = (await sshd.sftpLog())
          .filter((l) => /^(open|close|rename) /.test(l))
          .map((l) => withoutAttempt(l.replace(/ mode \d+$/, "")));
        assert.deepEqual(
          served,
          finals.flatMap((n, i) => [
            `open "out/.${n}.part" flags WRITE,CREATE,TRUNCATE`,
            `close "out/.${n}.part" bytes read 0 written ${adt(`F${i + 1}`).length}`,
            `rename old "out/.${n}.part" new "out/${n}"`,
          ]),
        );
        // One login for all five: the session stayed open between messages.
        assert.equal(sshd.lines.filter((l) => l.includes("Accepted publickey")).length, 1);
        assert.equal((await d.actor.status()).socket, "open");
      } finally {
        await d.stop();
      }
    }, { sftpLog: true });
  },
);

sshTest("sftp deliverer keeps the head on failure and retries on the schedule", async () => {
  await withSshd(async (sshd) => {
    const d = await startDelivery({ target: target(sshd) });
    try {
      // The folder is missing: the receiver cannot take files yet.
      const [first, second] = await d.enqueue({ bytes: adt("R1") }, { bytes: adt("R2") });
      assert.equal(await d.backoff(first!.id, 1), 0);
      d.clock.advance(0);
      assert.equal(await d.backoff(first!.id, 2), 10_000);
      const log = await d.logOf(first!.id);
      assert.match(log.attempts[0]?.reason ?? "", /writing out\/.*\.hl7 failed: .*no-such-file/);
      assert.equal((await d.logOf(second!.id)).attemptCount, 0, "the second went before the head");
      await Deno.mkdir(`${sshd.files}/out`);
      d.clock.advance(9_999);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await d.logOf(first!.id)).attemptCount, 2, "retried before 10 s");
      d.clock.advance(1);
      await waitFor("both delivered", async () => (await d.store.depth(d.actorId)) === 0);
      assert.deepEqual(
        (await d.logOf(first!.id)).attempts.map((a) => a.outcome),
        ["FAILED", "FAILED", "SUCCEEDED"],
      );
      assert.equal((await names(`${sshd.files}/out`)).length, 2);
    } finally {
      await d.stop();
    }
  });
});

sshTest(
  "sftp deliverer: a connection killed mid-upload leaves no final file and the retry delivers it whole",
  async () => {
    await withSshd(async (sshd) => {
      const out = `${sshd.files}/out`;
      await Deno.mkdir(out);
      const proxy = startTcpProxy(sshd.port);
      const d = await startDelivery({ target: target(sshd, proxy.port) });
      try {
        const bytes = new Uint8Array(8 * 1024 * 1024);
        for (let i = 0; i < bytes.length; i += 65536) {
          crypto.getRandomValues(bytes.subarray(i, i + 65536));
        }
        // Once the handshake and 2 MB of the file have gone up, sshd's session dies.
        proxy.when("up", 2 * 1024 * 1024, () => sshd.killSessions());
        const [record] = await d.enqueue({
          bytes,
          contentType: "application/pdf",
          fileName: "scan.pdf",
        });
        const name = d.deliverer.fileNameFor(record!);
        assert.match(name, /-.*\.pdf$/);
        // Asleep in its backoff before the clock moves: advanced earlier, the clock would leave
        // the sleep the actor then begins (due at once, on a clock that moves no more) unwoken.
        assert.equal(await d.backoff(record!.id, 1), 0);
        assert.ok(!(await names(out)).includes(name), "a partial file got its final name");
        // What the cut attempt wrote is under a temporary name of that attempt's own.
        const partial = (await names(out)).filter((n) => n.startsWith(`.${name}.`));
        assert.equal(partial.length, 1, (await names(out)).join(", "));
        assert.match(
          partial[0]!,
          new RegExp(`^\\.${name.replaceAll(".", "\\.")}\\.[0-9a-z]{8,}\\.part$`),
        );
        d.clock.advance(0);
        await waitFor("delivered", async () => (await d.logOf(record!.id)).status === "SUCCEEDED");
        // The first attempt's partial temporary file went at the retry, which wrote under a name
        // of its own (an abandoned session's late requests cannot touch it).
        assert.deepEqual(await names(out), [name]);
        assert.deepEqual(await Deno.readFile(`${out}/${name}`), bytes);
        assert.match((await d.logOf(record!.id)).attempts[0]?.reason ?? "", /failed/);
      } finally {
        await d.stop();
        await proxy.stop();
      }
    });
  },
);

sshTest(
  "sftp deliverer recognises a delivery whose rename answer was lost by reading the file back",
  async () => {
    await withSshd(async (sshd) => {
      const out = `${sshd.files}/out`;
      await Deno.mkdir(out);
      const ops: string[] = [];
      const d = await startDelivery({
        target: target(sshd),
        session: (real) => {
          const spy = delegate(real);
          spy.read = (path, o) => (ops.push(`read ${path}`), real.read(path, o));
          return spy;
        },
      });
      try {
        await d.actor.command("pause", "test", "set the scene first");
        const [record] = await d.enqueue({ bytes: adt("L1") });
        const name = d.deliverer.fileNameFor(record!);
        // The previous attempt's rename went through but its answer never came back.
        await Deno.writeFile(`${out}/${name}`, adt("L1"));
        await d.actor.command("resume", "test", "go");
        await waitFor("delivered", async () => (await d.logOf(record!.id)).status === "SUCCEEDED");
        const log = await d.logOf(record!.id);
        assert.deepEqual(log.attempts.map((a) => a.outcome), ["SUCCEEDED"]);
        assert.equal(
          log.attempts[0]?.reason,
          `out/${name} (${adt("L1").length} bytes), already in place`,
        );
        // Taken for this message's only once its bytes were read back and compared.
        assert.deepEqual(ops, [`read out/${name}`]);
        // The temporary file is gone and the final one is untouched.
        assert.deepEqual(await names(out), [name]);
        assert.deepEqual(await Deno.readFile(`${out}/${name}`), adt("L1"));
      } finally {
        await d.stop();
      }
    });
  },
);

/** The reason a message gets while `final` holds another file of `size` bytes. */
function takenReason(final: string, size: number, template?: string): string {
  const reason = `${final} already holds another file (${size} bytes, not this message's); ` +
    `this message waits until that file is taken away`;
  return template === undefined ? reason : `${reason}. The fileName template ` +
    `${JSON.stringify(template)} gives more than one message this name: add {id} to make each ` +
    `name unique`;
}

/**
 * Three messages through a `{name}.{ext}` template: two split from one uploaded `res.hl7` (so one
 * final name; the second's bytes are `second`), then `other.hl7`. The second waits, not delivered,
 * while the first's file is there, and is written once the receiver has taken that file away;
 * the third goes only after it.
 */
async function sameNameWaits(second: Uint8Array): Promise<void> {
  await withSshd(async (sshd) => {
    const out = `${sshd.files}/out`;
    await Deno.mkdir(out);
    const d = await startDelivery({ target: target(sshd), fileName: "{name}.{ext}" });
    try {
      const first = adt("S1");
      const [m1, m2, m3] = await d.enqueue(
        { bytes: first, fileName: "res.hl7" },
        { bytes: second, fileName: "res.hl7" },
        { bytes: adt("S3"), fileName: "other.hl7" },
      );
      assert.equal(d.deliverer.fileNameFor(m2!), "res.hl7");
      assert.equal(await d.backoff(m2!.id, 1), 0);
      assert.equal((await d.logOf(m1!.id)).status, "SUCCEEDED");
      d.clock.advance(0);
      assert.equal(await d.backoff(m2!.id, 2), 10_000);
      // Not delivered, and nothing to say otherwise: the file there is still the first's.
      const log = await d.logOf(m2!.id);
      assert.equal(log.status, "PENDING");
      assert.deepEqual(log.attempts.map((a) => a.outcome), ["FAILED", "FAILED"]);
      for (const a of log.attempts) {
        assert.equal(a.reason, takenReason("out/res.hl7", first.length, "{name}.{ext}"));
      }
      assert.deepEqual(await Deno.readFile(`${out}/res.hl7`), first);
      assert.deepEqual(await names(out), ["res.hl7"], "a temporary file was left behind");
      assert.equal((await d.logOf(m3!.id)).attemptCount, 0, "the third went before the second");
      assert.equal(d.lines("sftp.name-taken").length, 2);
      // The receiver takes the first file away; the next attempt writes the second.
      await Deno.remove(`${out}/res.hl7`);
      d.clock.advance(10_000);
      await waitFor("all delivered", async () => (await d.store.depth(d.actorId)) === 0);
      const done = await d.logOf(m2!.id);
      assert.equal(done.status, "SUCCEEDED");
      assert.equal(done.attempts[2]?.reason, `out/res.hl7 (${second.length} bytes)`);
      assert.deepEqual(await Deno.readFile(`${out}/res.hl7`), second);
      assert.deepEqual(await Deno.readFile(`${out}/other.hl7`), adt("S3"));
      assert.equal((await d.logOf(m3!.id)).attemptCount, 1);
    } finally {
      await d.stop();
    }
  });
}

sshTest(
  "sftp deliverer: a message whose {name} file name holds another message's file of the same size waits until it is taken away, then is written, in order",
  () => sameNameWaits(adt("S2")),
);

sshTest(
  "sftp deliverer: a message whose {name} file name holds another message's file of another size waits until it is taken away, then is written, in order",
  () => sameNameWaits(adt("S22")),
);

sshTest(
  "sftp deliverer: with an {id} template a final name taken by a foreign file of the same size is not taken for the message",
  async () => {
    await withSshd(async (sshd) => {
      const out = `${sshd.files}/out`;
      await Deno.mkdir(out);
      const d = await startDelivery({ target: target(sshd) });
      try {
        await d.actor.command("pause", "test", "set the scene first");
        const [record] = await d.enqueue({ bytes: adt("T1") });
        const name = d.deliverer.fileNameFor(record!);
        const foreign = adt("T9");
        assert.equal(foreign.length, adt("T1").length);
        await Deno.writeFile(`${out}/${name}`, foreign);
        await d.actor.command("resume", "test", "go");
        await waitFor("first attempt", async () => (await d.logOf(record!.id)).attemptCount === 1);
        const log = await d.logOf(record!.id);
        assert.equal(log.status, "PENDING");
        assert.equal(log.attempts[0]?.reason, takenReason(`out/${name}`, foreign.length));
        assert.deepEqual(await Deno.readFile(`${out}/${name}`), foreign);
        assert.deepEqual(await names(out), [name]);
      } finally {
        await d.stop();
      }
    });
  },
);

sshTest(
  "sftp deliverer closes its session after the idle period and reconnects for the next file",
  async () => {
    await withSshd(async (sshd) => {
      await Deno.mkdir(`${sshd.files}/out`);
      const d = await startDelivery({ target: target(sshd), idleCloseMs: 60_000 });
      try {
        const [a] = await d.enqueue({ bytes: adt("I1") });
        await waitFor("delivered", async () => (await d.logOf(a!.id)).status === "SUCCEEDED");
        assert.equal(d.deliverer.holdsConnection(), true);
        await waitFor("idle", () => d.clock.pending === 1);
        d.clock.advance(30_000);
        await waitFor("idle again", () => d.clock.pending === 1);
        assert.equal(d.deliverer.holdsConnection(), true, "closed before the idle period");
        d.clock.advance(30_000);
        await waitFor("closed", () => !d.deliverer.holdsConnection());
        assert.equal(d.lines("sftp.idle-close").length, 1);
        const [b] = await d.enqueue({ bytes: adt("I2") });
        await waitFor("delivered again", async () => (await d.logOf(b!.id)).status === "SUCCEEDED");
        assert.equal(sshd.lines.filter((l) => l.includes("Accepted publickey")).length, 2);
      } finally {
        await d.stop();
      }
    });
  },
);
