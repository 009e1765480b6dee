/**
 * An SFTP server that stops answering SFTP while SSH stays alive (a hung disk or filesystem behind
 * it; here its `sftp-server` is SIGSTOPped, and sshd still answers): a delivery or a poll waits
 * for an answer only until the request's deadline, then closes the session and fails with a reason
 * naming the request, its path and the time; the retry, on a fresh session, goes through. Fakes
 * show the deadline rule for large writes, a rename and a connect that get no answer, and a skip
 * that ends a stalled write at once.
 */

import assert from "node:assert/strict";
import type { SftpSession, SftpSessionSource, SftpStat } from "../../../actors/sftp/connector.ts";
import { delegate, pollKey, startPoll } from "./poll_fixture.ts";
import { deliveryKey, startDelivery, withoutAttempt } from "./delivery_fixture.ts";
import { waitFor } from "../../helpers/net.ts";
import { type Sshd, startSshd } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";

/** These tests drive sshd (with OpenSSH's sftp-server, to stop it) and ssh-keygen. */
const sshTest = testNeeding("sshd", "ssh-keygen");

const SFTP_SERVER = "/usr/lib/openssh/sftp-server";
const MiB = 1024 * 1024;
const enc = new TextEncoder();

function adt(id: string): Uint8Array {
  return enc.encode(`MSH|^~\\&|A|B|C|D|20240315||ADT^A01|${id}|P|2.5.1\rPID|1||${id}`);
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.isDirectory ? `${e.name}/` : e.name);
  return out.sort();
}

/** The state letter of process `pid` (`T` stopped, `Z` zombie), undefined once it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/** The `sftp-server` processes of `sshd` (one per session), found through /proc. */
function sftpServers(sshd: Sshd): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let argv: string[];
    try {
      argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
    } catch {
      continue; // gone meanwhile
    }
    if (argv[0] === SFTP_SERVER && argv.includes(sshd.files)) out.push(Number(e.name));
  }
  return out;
}

/** A stopped sftp-server. */
interface Frozen {
  pid: number;
  /** Resolves once the stop has taken effect. */
  stopped(): Promise<void>;
  /** Lets it run again (its disk is back) and waits for it to end. */
  thaw(): Promise<void>;
  /** Lets it run again (cleaning up after a failed test). */
  resume(): void;
}

/** SIGSTOPs the one sftp-server of `sshd`: the SFTP server hangs, sshd goes on answering. */
function freeze(sshd: Sshd): Frozen {
  const pids = sftpServers(sshd);
  assert.equal(pids.length, 1, `sftp-server processes: ${pids.join(", ")}`);
  const pid = pids[0]!;
  Deno.kill(pid, "SIGSTOP");
  return {
    pid,
    stopped: () => waitFor(`sftp-server ${pid} stopped`, () => procState(pid) === "T"),
    resume() {
      try {
        Deno.kill(pid, "SIGCONT");
      } catch {
        // gone already
      }
    },
    async thaw() {
      Deno.kill(pid, "SIGCONT");
      // Its session is gone: it serves what it was sent, reads the end of its input and exits.
      await waitFor(`sftp-server ${pid} ended`, () => {
        const state = procState(pid);
        return state === undefined || state === "Z";
      });
    },
  };
}

function endpoint(sshd: Sshd) {
  return { port: sshd.port, user: sshd.user, hostKeyFingerprint: sshd.hostKey.fingerprint };
}

sshTest(
  "sftp deliverer: a write the server never answers fails at its 60 s deadline with the reason and the session closed; the retry delivers it and the next, in order",
  async () => {
    const sshd = await startSshd({
      authorizedKeys: [(await deliveryKey()).publicKey],
      sftpLog: true,
    });
    const opened: SftpSession[] = [];
    const d = await startDelivery({
      target: endpoint(sshd),
      session: (real) => (opened.push(real), real),
    });
    let frozen: Frozen | undefined;
    try {
      const out = `${sshd.files}/out`;
      await Deno.mkdir(out);
      const [m0] = await d.enqueue({ bytes: adt("W0") });
      await waitFor(
        "the first delivered",
        async () => (await d.logOf(m0!.id)).status === "SUCCEEDED",
      );
      // The session stays open; its SFTP server hangs.
      frozen = freeze(sshd);
      await frozen.stopped();
      const [m1, m2] = await d.enqueue({ bytes: adt("W1") }, { bytes: adt("W2") });
      const [n0, n1, n2] = [m0!, m1!, m2!].map((m) => d.deliverer.fileNameFor(m));
      // The write is asked for and waits, its deadline set 60 s ahead on the actor's clock.
      await waitFor(
        "the write waiting on its deadline",
        async () =>
          (await d.actor.status()).state === "sending" && d.clock.pending === 1 &&
          d.clock.nextWake === d.clock.now() + 60_000,
      );
      d.clock.advance(59_999);
      assert.equal(d.clock.pending, 1, "the deadline passed early");
      assert.equal(opened[0]!.open, true);
      d.clock.advance(1);
      await waitFor("the attempt failed", async () => (await d.logOf(m1!.id)).attemptCount === 1);
      assert.equal(
        withoutAttempt((await d.logOf(m1!.id)).attempts[0]?.reason ?? ""),
        `writing out/${n1} failed: the SFTP server did not answer within 60 s ` +
          `(write out/.${n1}.part); session closed`,
      );
      const failed = d.lines("delivery.failed");
      assert.equal(failed.length, 1);
      assert.ok(failed[0]!.includes("did not answer within 60 s"), failed[0]);
      // The session is closed, and really: sshd sees the client leave.
      assert.equal(opened[0]!.open, false);
      assert.equal(d.deliverer.holdsConnection(), false);
      await waitFor(
        "sshd to see the client leave",
        () => sshd.lines.some((l) => /Received disconnect from 127\.0\.0\.1/.test(l)),
      );
      assert.equal((await d.logOf(m2!.id)).attemptCount, 0, "the second went before the head");
      assert.equal((await d.actor.status()).state, "backoff");

      // The server answers again; the retry (at once, the first of the schedule) logs in afresh.
      await frozen.thaw();
      frozen = undefined;
      d.clock.advance(0);
      await waitFor("both delivered", async () => (await d.store.depth(d.actorId)) === 0);
      assert.deepEqual(
        (await d.logOf(m1!.id)).attempts.map((a) => a.outcome),
        ["FAILED", "SUCCEEDED"],
      );
      assert.deepEqual((await d.logOf(m2!.id)).attempts.map((a) => a.outcome), ["SUCCEEDED"]);
      assert.equal(opened.length, 2);
      assert.equal(sshd.lines.filter((l) => l.includes("Accepted publickey")).length, 2);
      // Nothing half-written, nothing else: the three files whole under their final names...
      assert.deepEqual(await names(out), [n0, n1, n2].sort());
      for (const [name, id] of [[n0, "W0"], [n1, "W1"], [n2, "W2"]] as const) {
        assert.deepEqual(await Deno.readFile(`${out}/${name}`), adt(id));
      }
      // ... renamed into place in queue order.
      assert.deepEqual(
        (await sshd.sftpLog()).filter((l) => l.startsWith("rename ")).map(withoutAttempt),
        [n0, n1, n2].map((n) => `rename old "out/.${n}.part" new "out/${n}"`),
      );
    } finally {
      frozen?.resume();
      await d.stop();
      await sshd.stop();
    }
  },
);

/**
 * A poll whose `list` (or whose `read` of `in/a.hl7`) the server never answers: the poll ends at
 * the 60 s deadline with the reason logged and kept, the file stays where it is, and the next
 * poll, at its interval on a fresh session, takes it.
 */
async function pollStall(at: "list" | "read"): Promise<void> {
  const sshd = await startSshd({ authorizedKeys: [(await pollKey()).publicKey], sftpLog: true });
  await Deno.mkdir(`${sshd.files}/in`);
  await Deno.writeTextFile(`${sshd.files}/in/a.hl7`, new TextDecoder().decode(adt("P1")));
  const opened: SftpSession[] = [];
  let frozen: Frozen | undefined;
  /** Set as the request that will get no answer is sent (its deadline is set by then). */
  let asked = false;
  const p = await startPoll(sshd, {
    session: (real) => {
      opened.push(real);
      if (opened.length > 1) return real;
      const spy = delegate(real);
      if (at === "list") {
        frozen = freeze(sshd);
        spy.list = async (folder) => {
          await frozen!.stopped();
          asked = true;
          return real.list(folder);
        };
      } else {
        spy.list = async (folder) => {
          const entries = await real.list(folder);
          frozen = freeze(sshd);
          await frozen.stopped();
          return entries;
        };
        spy.read = (path, options) => {
          asked = true;
          return real.read(path, options);
        };
      }
      return spy;
    },
  });
  const abort = new AbortController();
  const running = p.actor.run(abort.signal);
  try {
    await waitFor(
      `the ${at} waiting on its deadline`,
      async () =>
        asked && (await p.actor.status()).state === "processing" &&
        p.clock.pending === 1 && p.clock.nextWake === p.clock.now() + 60_000,
    );
    p.clock.advance(60_000);
    await waitFor(
      "the poll failed",
      () => p.lines("sftp.poll-failed").length === 1 && p.clock.pending === 1,
    );
    const reason = `the SFTP server did not answer within 60 s (${
      at === "list" ? "list in" : "read in/a.hl7"
    }); session closed`;
    const status = await p.actor.status();
    assert.equal(status.lastError, reason);
    assert.ok(
      p.lines("sftp.poll-failed")[0]!.includes(`reason=${JSON.stringify(reason)}`),
      p.lines("sftp.poll-failed")[0],
    );
    assert.equal(status.nextRetryAt, p.clock.now() + 60_000, "the next poll is not at its time");
    assert.equal(opened[0]!.open, false, "the session was left open");
    assert.equal((await p.queued()).length, 0);
    assert.deepEqual(await names(`${sshd.files}/in`), ["a.hl7"]);
    // The server answers again; the next poll, at its interval, takes the file.
    await frozen!.thaw();
    frozen = undefined;
    p.clock.advance(60_000);
    await waitFor("the file taken", async () => (await p.queued()).length === 1);
    await waitFor("the poll ended", async () => (await p.actor.status()).lastError === undefined);
    // Stored with its last segment ended by CR, as over MLLP.
    assert.deepEqual((await p.queued())[0]!.payload, new Uint8Array([...adt("P1"), 0x0d]));
    assert.deepEqual(await names(`${sshd.files}/in`), ["archive/"]);
    assert.equal(opened.length, 2);
    assert.equal(p.lines("sftp.poll-failed").length, 1);
  } finally {
    abort.abort();
    await running;
    frozen?.resume();
    await p.close();
    await sshd.stop();
  }
}

sshTest(
  "sftp poller: a list the server never answers ends the poll at its 60 s deadline with the reason logged; the next poll takes the file",
  () => pollStall("list"),
);

sshTest(
  "sftp poller: a read the server never answers ends the poll at its 60 s deadline with the reason logged, the file left in place; the next poll takes it",
  () => pollStall("read"),
);

/** A request of a fake session, answered (or not) when a test says. */
interface Asked {
  op: string;
  path: string;
  answer(): void;
}

/**
 * A session whose requests wait until the test answers them, like a server that may hang: closing
 * it does not fail them (whatever the session below does, the deliverer must not wait on it).
 */
class FakeSession implements SftpSession {
  open = true;
  /** Answer every request at once from now on. */
  released = false;
  readonly asked: Asked[] = [];
  readonly files = new Map<string, number>();

  #ask<T>(op: string, path: string, then: () => T): Promise<T> {
    if (this.released) return Promise.resolve(then());
    return new Promise((resolve) => this.asked.push({ op, path, answer: () => resolve(then()) }));
  }

  list() {
    return Promise.resolve([]);
  }
  read() {
    return Promise.resolve(new Uint8Array());
  }
  write(path: string, bytes: Uint8Array) {
    return this.#ask("write", path, () => void this.files.set(path, bytes.length));
  }
  rename(from: string, to: string) {
    return this.#ask("rename", from, () => {
      this.files.set(to, this.files.get(from)!);
      this.files.delete(from);
    });
  }
  remove(path: string) {
    this.files.delete(path);
    return Promise.resolve();
  }
  mkdir() {
    return Promise.resolve();
  }
  stat(path: string): Promise<SftpStat | undefined> {
    const size = this.files.get(path);
    return Promise.resolve(
      size === undefined ? undefined : { size, mtimeMs: 0, isFile: true, isDirectory: false },
    );
  }
  close() {
    this.open = false;
  }
}

/** Sessions from a fake server: each open waits until the test lets it through (`connects`). */
function fakeServer() {
  const sessions: FakeSession[] = [];
  const connects: { signal?: AbortSignal; accept(): void }[] = [];
  const source: SftpSessionSource = {
    open: (signal) =>
      new Promise((resolve, reject) => {
        signal?.addEventListener("abort", () => reject(new Error("connect aborted")));
        connects.push({
          ...(signal ? { signal } : {}),
          accept: () => {
            const s = new FakeSession();
            sessions.push(s);
            resolve(s);
          },
        });
      }),
    describe: () => ({ remote: "fake" }),
  };
  /** Answers everything, waiting or to come (so that code without deadlines can end too). */
  const release = () => {
    for (const s of sessions) {
      s.released = true;
      for (const a of s.asked) a.answer();
    }
  };
  return { source, sessions, connects, release };
}

Deno.test(
  "sftp deliverer bounds a connect, a large write and a rename that get no answer (request timeout, plus 10 s per MiB for a write); one answered before its deadline is not cut",
  async () => {
    const server = fakeServer();
    // A 5 s request timeout, injected: a 3 MiB write then has 5 s + 3 x 10 s.
    const d = await startDelivery({ target: { sessions: server.source }, requestTimeoutMs: 5_000 });
    const big = new Uint8Array(3 * MiB + 1).fill(7);
    try {
      const [m1, m2] = await d.enqueue(
        { bytes: big, contentType: "application/pdf", fileName: "big.pdf" },
        { bytes: adt("F2") },
      );
      const [n1, n2] = [m1!, m2!].map((m) => d.deliverer.fileNameFor(m));
      const deadline = async (ms: number, state: string) =>
        await waitFor(
          `${state} with a deadline ${ms} ms ahead`,
          async () =>
            (await d.actor.status()).state === state && d.clock.pending === 1 &&
            d.clock.nextWake === d.clock.now() + ms,
        );
      const failures = async (id: string, n: number) => {
        await waitFor(`failure ${n}`, async () => (await d.logOf(id)).attemptCount === n);
        await waitFor("backing off", () => d.clock.pending === 1);
        return (await d.logOf(id)).attempts[n - 1]?.reason;
      };

      // 1. The connect: no session within 5 s, the connect is aborted.
      await deadline(5_000, "connecting");
      d.clock.advance(5_000);
      assert.equal(
        await failures(m1!.id, 1),
        "connect failed: the SFTP server did not answer within 5 s (open session); " +
          "connection closed",
      );
      assert.equal(server.connects[0]!.signal?.aborted, true, "the connect went on");

      // 2. The 3 MiB write: 35 s, and nothing is cut before.
      d.clock.advance(0);
      await waitFor("a second connect", () => server.connects.length === 2);
      server.connects[1]!.accept();
      await deadline(35_000, "sending");
      d.clock.advance(34_999);
      assert.equal(server.sessions[0]!.open, true, "cut before its deadline");
      d.clock.advance(1);
      assert.equal(
        withoutAttempt((await failures(m1!.id, 2)) ?? ""),
        `writing out/${n1} failed: the SFTP server did not answer within 35 s ` +
          `(write out/.${n1}.part); session closed`,
      );
      assert.equal(server.sessions[0]!.open, false, "the session was left open");

      // 3. The retry's write is answered just before its deadline, its rename never is: 5 s.
      d.clock.advance(10_000);
      await waitFor("a third connect", () => server.connects.length === 3);
      server.connects[2]!.accept();
      await deadline(35_000, "sending");
      d.clock.advance(34_999);
      server.sessions[1]!.asked[0]!.answer();
      await waitFor("the rename asked", () => server.sessions[1]!.asked.length === 2);
      assert.deepEqual(server.sessions[1]!.asked.map((a) => withoutAttempt(`${a.op} ${a.path}`)), [
        `write out/.${n1}.part`,
        `rename out/.${n1}.part`,
      ]);
      await deadline(5_000, "sending");
      d.clock.advance(5_000);
      assert.equal(
        withoutAttempt((await failures(m1!.id, 3)) ?? ""),
        `writing out/${n1} failed: the SFTP server did not answer within 5 s ` +
          `(rename out/.${n1}.part to out/${n1}); session closed`,
      );
      assert.equal(server.sessions[1]!.open, false);
      assert.equal((await d.logOf(m2!.id)).attemptCount, 0, "the second went before the head");

      // 4. A server that answers: both go, in order.
      d.clock.advance((await d.actor.status()).nextRetryAt! - d.clock.now());
      await waitFor("a fourth connect", () => server.connects.length === 4);
      server.connects[3]!.accept();
      const session = server.sessions[2]!;
      for (let i = 0; i < 4; i++) {
        await waitFor(`request ${i + 1}`, () => session.asked.length === i + 1);
        session.asked[i]!.answer();
      }
      await waitFor("both delivered", async () => (await d.store.depth(d.actorId)) === 0);
      assert.deepEqual(session.asked.map((a) => withoutAttempt(`${a.op} ${a.path}`)), [
        `write out/.${n1}.part`,
        `rename out/.${n1}.part`,
        `write out/.${n2}.part`,
        `rename out/.${n2}.part`,
      ]);
      assert.deepEqual([...session.files.keys()], [`out/${n1}`, `out/${n2}`]);
      assert.equal(session.files.get(`out/${n1}`), big.length);
      assert.equal(session.open, true);
      // Idle, with no deadline sleep left behind by any request.
      await waitFor("idle", async () => (await d.actor.status()).state === "idle");
      await waitFor("only the idle sleep", () => d.clock.pending === 1);
    } finally {
      server.release();
      await d.stop();
    }
  },
);

Deno.test(
  "sftp deliverer: an operator's skip ends a write the server never answers at once, without waiting for its deadline",
  async () => {
    const server = fakeServer();
    const d = await startDelivery({ target: { sessions: server.source } });
    try {
      const [m1, m2] = await d.enqueue({ bytes: adt("K1") }, { bytes: adt("K2") });
      await waitFor("a connect", () => server.connects.length === 1);
      server.connects[0]!.accept();
      const session = server.sessions[0]!;
      await waitFor("the write asked", () => session.asked.length === 1);
      assert.equal((await d.actor.status()).state, "sending");
      const skipped = await d.actor.command("skip", "ops", "server hangs");
      assert.equal(skipped.ok, true, skipped.message);
      // Ended without the clock moving: the deadline (60 s) is not what ended it.
      await waitFor("the attempt ended", async () => (await d.logOf(m1!.id)).attemptCount === 1);
      assert.equal(
        (await d.logOf(m1!.id)).attempts[0]?.reason,
        "skipped by an operator during the attempt; the receiver may have received it",
      );
      assert.equal(session.open, false);
      // The next message goes on a new session.
      await waitFor("a second connect", () => server.connects.length === 2);
      server.connects[1]!.accept();
      const next = server.sessions[1]!;
      for (let i = 0; i < 2; i++) {
        await waitFor(`request ${i + 1}`, () => next.asked.length === i + 1);
        next.asked[i]!.answer();
      }
      await waitFor("delivered", async () => (await d.logOf(m2!.id)).status === "SUCCEEDED");
    } finally {
      server.release();
      await d.stop();
    }
  },
);
