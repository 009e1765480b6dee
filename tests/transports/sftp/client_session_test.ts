/**
 * The ssh2 SFTP session's request timeout: while requests wait, the server must answer one of them
 * within the timeout, else the session is closed and they fail naming themselves. Any answer
 * counts, so a transfer that keeps moving is never cut. Driven by a ManualClock, over a fake
 * ssh2 SFTP channel (answered when the test says) and over OpenSSH with its `sftp-server`
 * SIGSTOPped (SSH alive, SFTP hung, as on a server whose disk hangs).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { SftpStatusError } from "../../../actors/sftp/connector.ts";
import { SftpDeadlineError } from "../../../actors/sftp/bounded_session.ts";
import { CHUNK, SshSftpSession } from "../../../transports/sftp/client_session.ts";
import { waitFor } from "../../helpers/net.ts";
import { type Sshd, startSshd, testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { startHostileSftpd } from "../../actors/sftp/hostile_sftpd.ts";

/** These tests drive sshd (with OpenSSH's sftp-server, to stop it) and ssh-keygen. */
const sshTest = testNeeding("sshd", "ssh-keygen");

type Callback = (err: Error | undefined, ...values: unknown[]) => void;

/** A request the fake channel got: `op` and its callback, called when the test answers. */
interface Request {
  op: string;
  answer(err?: Error, value?: unknown): void;
}

/** A fake ssh2 client and SFTP channel: requests wait in `requests` until answered. */
function fakeChannel() {
  const requests: Request[] = [];
  let ended = 0;
  const ask = (op: string) => (...args: unknown[]) => {
    const cb = args.at(-1) as Callback;
    requests.push({ op, answer: (err, value) => cb(err, value) });
  };
  const client = {
    on: () => client,
    end: () => void ended++,
  };
  const sftp = {
    on: () => sftp,
    open: ask("open"),
    write: ask("write"),
    ext_openssh_fsync: ask("fsync"),
    close: ask("close"),
    stat: ask("stat"),
  };
  return {
    requests,
    get ended() {
      return ended;
    },
    session: (clock: ManualClock, requestTimeoutMs: number) =>
      new SshSftpSession(
        client as unknown as ssh2.Client,
        sftp as unknown as ssh2.SFTPWrapper,
        undefined,
        { clock, requestTimeoutMs },
      ),
  };
}

/** What a promise came to, as far as it got by now. */
function track<T>(promise: Promise<T>) {
  const seen: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then((value) => Object.assign(seen, { value, done: true }), (error) => {
    Object.assign(seen, { error, done: true });
  });
  return seen;
}

Deno.test(
  "ssh sftp session: a write answered request by request, each within the 1 s timeout, is not cut in 6 s; a stat then left unanswered for 1 s fails naming itself and closes the session",
  async () => {
    const fake = fakeChannel();
    const clock = new ManualClock();
    const session = fake.session(clock, 1000);
    const bytes = new Uint8Array(4 * CHUNK).fill(1);
    const write = track(session.write("out/.x.part", bytes));
    const answerNext = async (op: string, n: number, value?: unknown) => {
      await waitFor(`${op} request ${n}`, () => fake.requests.length >= n);
      assert.equal(fake.requests[n - 1]!.op, op);
      // Each answer comes 0.9 s after the one before: under the timeout, never stalled. The
      // watchdog, waking meanwhile, finds the last answer 0.9 s old and sleeps on.
      clock.advance(900);
      await waitFor(
        "the watchdog asleep",
        () => clock.pending === 1 && clock.nextWake! > clock.now(),
      );
      fake.requests[n - 1]!.answer(undefined, value);
    };
    await answerNext("open", 1, Buffer.from("handle"));
    // The four chunks are asked for at once (pipelined) and answered one by one: the last waits
    // 3.6 s, longer than the timeout, while the server keeps answering.
    await waitFor("the chunks asked for", () => fake.requests.length === 5);
    for (let n = 2; n <= 5; n++) await answerNext("write", n);
    await answerNext("fsync", 6);
    await answerNext("close", 7);
    await waitFor("the write done", () => write.done);
    assert.equal(write.error, undefined);
    assert.equal(fake.ended, 0, "the session was closed");
    assert.equal(session.open, true);
    assert.equal(clock.pending, 0, "a watchdog sleep outlived the requests");

    // A request nobody answers: at 1 s (not before) it fails and the session is closed.
    const stat = track(session.stat("in/y.hl7"));
    assert.equal(clock.pending, 1);
    clock.advance(999);
    assert.equal(clock.pending, 1, "the watchdog woke before the timeout");
    clock.advance(1);
    await waitFor("the stat failed", () => stat.done);
    assert.ok(stat.error instanceof SftpDeadlineError);
    assert.ok(stat.error instanceof SftpStatusError);
    assert.equal(stat.error.kind, "connection-lost");
    assert.equal(
      stat.error.message,
      "the SFTP server did not answer within 1 s (stat in/y.hl7); session closed",
    );
    assert.equal(fake.ended, 1);
    assert.equal(session.open, false);
    assert.equal(clock.pending, 0);
    // A late answer changes nothing; a new request fails at once.
    fake.requests.at(-1)!.answer(undefined, { size: 1 });
    await assert.rejects(session.stat("in/z.hl7"), /session closed/);
  },
);

Deno.test("ssh sftp session: closing it fails the requests under way at once", async () => {
  const fake = fakeChannel();
  const clock = new ManualClock();
  const session = fake.session(clock, 60_000);
  const stat = track(session.stat("in/a.hl7"));
  const write = track(session.write("out/.b.part", new Uint8Array(10)));
  await waitFor("both asked", () => fake.requests.length === 2);
  session.close();
  await waitFor("both failed", () => stat.done && write.done);
  assert.equal((stat.error as Error).message, "stat in/a.hl7: connection-lost (session closed)");
  assert.equal(
    (write.error as Error).message,
    "open out/.b.part: connection-lost (session closed)",
  );
  assert.equal(fake.ended, 1);
  assert.equal(clock.pending, 0, "a watchdog sleep outlived the session");
});

/** The state letter of process `pid` (`T` stopped), undefined once it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/** The one `sftp-server` process of `sshd`, found through /proc. */
function sftpServer(sshd: Sshd): number {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (argv[0] === "/usr/lib/openssh/sftp-server" && argv.includes(sshd.files)) {
        pids.push(Number(e.name));
      }
    } catch {
      // gone meanwhile
    }
  }
  assert.equal(pids.length, 1, `sftp-server processes: ${pids.join(", ")}`);
  return pids[0]!;
}

sshTest(
  "ssh sftp session over OpenSSH: a list the stopped sftp-server never answers fails at the timeout and the connection really ends",
  async () => {
    const key = await testKey("client_rsa");
    const sshd = await startSshd({ authorizedKeys: [key.publicKey], sftpLog: true });
    const client = new ssh2.Client();
    let pid: number | undefined;
    try {
      const closed = new Promise<void>((resolve) => client.on("close", () => resolve()));
      await new Promise<void>((resolve, reject) => {
        client.on("ready", () => resolve()).on("error", reject).connect({
          host: "127.0.0.1",
          port: sshd.port,
          username: sshd.user,
          privateKey: key.privateKey,
        });
      });
      const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
        client.sftp((err, s) => (err ? reject(err) : resolve(s)))
      );
      const clock = new ManualClock();
      const session = new SshSftpSession(client, sftp, undefined, {
        clock,
        requestTimeoutMs: 5_000,
      });
      assert.equal((await session.stat("."))?.isDirectory, true);
      pid = sftpServer(sshd);
      Deno.kill(pid, "SIGSTOP");
      await waitFor("sftp-server stopped", () => procState(pid!) === "T");
      const list = track(session.list("."));
      await waitFor("the list waiting", () => clock.pending === 1);
      clock.advance(4_999);
      assert.equal(clock.pending, 1, "the watchdog woke before the timeout");
      clock.advance(1);
      await waitFor("the list failed", () => list.done);
      assert.equal(
        (list.error as Error).message,
        "the SFTP server did not answer within 5 s (list .); session closed",
      );
      assert.equal(session.open, false);
      // The connection ends (sshd, still answering, sees the client leave).
      await closed;
      await waitFor(
        "sshd to see the client leave",
        () => sshd.lines.some((l) => /Received disconnect from 127\.0\.0\.1/.test(l)),
      );
    } finally {
      if (pid !== undefined) {
        try {
          Deno.kill(pid, "SIGCONT");
        } catch {
          // gone already
        }
      }
      client.end();
      await sshd.stop();
    }
  },
);

/** Tests against npm ssh2's server (scripted): they need ssh-keygen for its host key. */
const keyTest = testNeeding("ssh-keygen");

keyTest(
  "ssh sftp session over a real server: a listing answered READDIR by READDIR, each within the 1 s timeout, is not cut after 1.8 s; with maxEntries it stops asking once past it",
  async () => {
    const server = await startHostileSftpd({});
    server.behaviour.extraNames = 250; // answers of 100, 100 and 50 names, then EOF
    const held = new Map<number, () => void>();
    server.behaviour.beforeReaddir = (n) =>
      n === 2 || n === 3 ? new Promise((resolve) => held.set(n, resolve)) : Promise.resolve();
    const key = await testKey("client_rsa");
    const client = new ssh2.Client();
    try {
      await new Promise<void>((resolve, reject) => {
        client.on("ready", () => resolve()).on("error", reject).connect({
          host: "127.0.0.1",
          port: server.sshd.port,
          username: server.sshd.user,
          privateKey: key.privateKey,
        });
      });
      const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
        client.sftp((err, s) => (err ? reject(err) : resolve(s)))
      );
      const clock = new ManualClock();
      const session = new SshSftpSession(client, sftp, undefined, {
        clock,
        requestTimeoutMs: 1000,
      });
      const progress: number[] = [];
      const list = track(session.list("in", { onProgress: (n) => progress.push(n) }));
      for (const n of [2, 3]) {
        await waitFor(`READDIR ${n} held`, () => held.has(n) && clock.pending === 1);
        clock.advance(900); // 1.8 s since the listing began once both are answered
        held.get(n)!();
        held.delete(n);
      }
      await waitFor("the listing done", () => list.done);
      assert.equal(list.error, undefined);
      assert.equal(list.value?.length, 250);
      assert.equal(list.value?.[0]?.name, "other-000000000.dat");
      assert.equal(list.value?.[0]?.isFile, true);
      assert.deepEqual(progress, [100, 200, 250]);
      assert.equal(session.open, true);
      await waitFor("no watchdog left", () => clock.pending === 0);

      // At most 150: two answers (200 names) and no third READDIR; the session goes on.
      server.behaviour.beforeReaddir = undefined;
      const before = server.count("READDIR");
      const some = await session.list("in", { maxEntries: 150 });
      assert.equal(some.length, 200);
      assert.equal(server.count("READDIR") - before, 2);
      assert.equal((await session.stat("in"))?.isDirectory, true);
    } finally {
      for (const release of held.values()) release();
      client.end();
      await server.stop();
    }
  },
);
