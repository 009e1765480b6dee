/**
 * An SFTP delivery's request deadline (how long the server may stay quiet) and a poll's duration
 * are counted on the monotonic clock: a wall clock stepped back an hour while a write waits for its
 * answer does not stretch the deadline by the hour, and one stepped forward during a poll is not
 * part of its duration. A fake server that never answers the write; a real sshd for the poll; a
 * ManualClock.
 */

import assert from "node:assert/strict";
import type { SftpSession, SftpSessionSource } from "../../../actors/sftp/connector.ts";
import { startDelivery, withoutAttempt } from "./delivery_fixture.ts";
import { delegate, pollKey, startPoll } from "./poll_fixture.ts";
import { waitFor } from "../../helpers/net.ts";
import { startSshd } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";

/** The poll's test drives sshd and ssh-keygen as a real peer. */
const sshTest = testNeeding("sshd", "ssh-keygen");

const enc = new TextEncoder();

/** A session whose writes are never answered. */
function silentSession(): SftpSession {
  return {
    open: true,
    list: () => Promise.resolve([]),
    read: () => Promise.resolve(new Uint8Array()),
    write: () => new Promise<void>(() => {}),
    rename: () => Promise.resolve(),
    remove: () => Promise.resolve(),
    mkdir: () => Promise.resolve(),
    stat: () => Promise.resolve(undefined),
    close() {
      this.open = false;
    },
  } as SftpSession & { open: boolean };
}

Deno.test("sftp deliverer: a write the server never answers fails at its deadline though the wall clock stepped back an hour meanwhile", async () => {
  const sessions: SftpSession[] = [];
  const source: SftpSessionSource = {
    open: () => {
      const s = silentSession();
      sessions.push(s);
      return Promise.resolve(s);
    },
    describe: () => ({ remote: "fake" }),
  };
  const d = await startDelivery({ target: { sessions: source }, requestTimeoutMs: 5_000 });
  try {
    const [m] = await d.enqueue({
      bytes: enc.encode("MSH|^~\\&|A|B|C|D|20240315||ADT^A01|S1|P|2.5.1"),
    });
    const name = d.deliverer.fileNameFor(m!);
    await waitFor(
      "the write waiting on its deadline",
      async () =>
        (await d.actor.status()).state === "sending" && d.clock.pending === 1 &&
        d.clock.nextWake === d.clock.monotonic() + 5_000,
    );
    d.clock.stepWall(-3_600_000);
    d.clock.advance(5_000);
    await waitFor("the attempt failed", async () => (await d.logOf(m!.id)).attemptCount === 1);
    assert.equal(
      withoutAttempt((await d.logOf(m!.id)).attempts[0]?.reason ?? ""),
      `writing out/${name} failed: the SFTP server did not answer within 5 s ` +
        `(write out/.${name}.part); session closed`,
    );
    assert.equal(sessions[0]!.open, false);
  } finally {
    await d.stop();
  }
});

sshTest(
  "sftp poller: a forward wall-clock step during a poll is not counted in its duration",
  async () => {
    const sshd = await startSshd({ authorizedKeys: [(await pollKey()).publicKey] });
    try {
      await Deno.mkdir(`${sshd.files}/in`);
      // The poller's clock, once it is made (the session wrapper is given first).
      const held: { clock?: { stepWall(ms: number): void; advance(ms: number): void } } = {};
      const p = await startPoll(sshd, {
        session: (real) => ({
          ...delegate(real),
          list: async (folder, options) => {
            const listed = await real.list(folder, options);
            // The listing took 2 s; the wall clock was stepped 3 h forward meanwhile.
            held.clock?.stepWall(3 * 3_600_000);
            held.clock?.advance(2_000);
            return listed;
          },
        }),
      });
      held.clock = p.clock;
      try {
        const summary = await p.actor.poll(new AbortController().signal);
        assert.equal(summary?.durationMs, 2_000);
      } finally {
        await p.close();
      }
    } finally {
      await sshd.stop();
    }
  },
);
