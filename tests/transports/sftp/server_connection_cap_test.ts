/**
 * The hosted SFTP server caps its connections in all (config `limits.maxSftpConnections`): past
 * the cap a new connection is closed as soon as it is accepted, before the server's SSH banner
 * (no key exchange spent on it), with one `sftp.connection-refused` line per address every 5 s
 * naming the cap and the setting to raise; a freed place is taken again by a good client. And
 * what a peer can make it log without logging in stays a few lines whatever it repeats: failed
 * key exchanges, SHA-1 host key choices, failed logins past the lockout. Real loopback sockets,
 * ssh2 clients.
 */

import assert from "node:assert/strict";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { waitFor } from "../../helpers/net.ts";
import { testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { connectHosted, stat } from "./hosted_client.ts";
import { type Hosted, startHosted } from "./server_fixture.ts";

/** The fixture makes its keys with ssh-keygen. */
const sshTest = testNeeding("ssh-keygen");

const dec = new TextDecoder();

/** What the server sent on `conn` before closing it (or until `until` matches it). */
async function readFromServer(
  conn: Deno.Conn,
  until: (text: string) => boolean,
  timeoutMs = 10_000,
): Promise<{ text: string; closed: boolean }> {
  let text = "";
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, timeoutMs);
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return { text, closed: true };
      text += dec.decode(buf.subarray(0, n));
      if (until(text)) return { text, closed: false };
    }
  } catch (error) {
    if (timedOut) throw new Error(`the server neither closed nor answered in ${timeoutMs} ms`);
    if (error instanceof Deno.errors.ConnectionReset) return { text, closed: true };
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Opens a raw TCP connection and waits for the server's SSH banner (it was admitted). */
async function holdOpen(h: Hosted): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: h.server.port });
  const got = await readFromServer(conn, (t) => t.includes("\r\n"));
  assert.equal(got.closed, false, "an admitted connection was closed");
  assert.match(got.text, /^SSH-2\.0-/);
  return conn;
}

function openConnections(h: Hosted): number {
  return Object.values(h.server.connections()).reduce((a, b) => a + b, 0);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed already */ }
}

sshTest(
  "hosted sftp past limits.maxSftpConnections closes a new connection before its SSH banner, logs once, and admits a client once a place is free",
  async () => {
    // The per-address cap well above the total: the total is what refuses.
    const h = await startHosted({ maxConnections: 5, maxConnectionsPerIp: 100 });
    const held: Deno.Conn[] = [];
    try {
      // Five raw connections that never send a banner hold the server's five places.
      for (let i = 0; i < 5; i++) held.push(await holdOpen(h));
      assert.equal(openConnections(h), 5);
      // The sixth (and the three after it) are closed at once, without a byte from the server.
      for (let i = 0; i < 4; i++) {
        const extra = await Deno.connect({ hostname: "127.0.0.1", port: h.server.port });
        try {
          const got = await readFromServer(extra, (t) => t.length > 0);
          assert.deepEqual(got, { text: "", closed: true }, `connection ${6 + i}`);
        } finally {
          closeQuietly(extra);
        }
      }
      const refused = h.lines("sftp.connection-refused");
      assert.equal(refused.length, 1, refused.join("\n"));
      assert.match(
        refused[0]!,
        /WARN .*peer=127\.0\.0\.1 reason="[^"]*limits\.maxSftpConnections[^"]*" cap=5 refused=1/,
      );
      // No other line for them (the per-address refusal is not what happened).
      assert.deepEqual(h.lines("sftp-server.refused"), []);
      assert.equal(openConnections(h), 5);
      // One of the five closes: a good client gets in and is served.
      held.pop()!.close();
      await waitFor("the server saw the close", () => openConnections(h) === 4);
      const good = await connectHosted(h);
      try {
        assert.ok((await stat(good.sftp, "/")).isDirectory());
        assert.equal(h.lines("sftp-server.login").length, 1);
      } finally {
        await good.end();
      }
      assert.equal(h.lines("sftp.connection-refused").length, 1);
    } finally {
      held.forEach(closeQuietly);
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp logs repeated failed key exchanges from one address in one ssh-error line per 5 s, with their count",
  async () => {
    const clock = new ManualClock();
    const h = await startHosted({ clock });
    try {
      /** A client that offers only a cipher the server does not have: the key exchange fails. */
      const badKex = async () => {
        const client = new ssh2.Client();
        const failed = new Promise<Error>((resolve) => {
          client.once("error", resolve);
          client.once("close", () => resolve(new Error("closed")));
        });
        client.connect({
          host: "127.0.0.1",
          port: h.server.port,
          username: "alice",
          privateKey: h.alice.privateKey,
          algorithms: { cipher: ["aes128-cbc"] },
          readyTimeout: 10_000,
        });
        const error = await failed;
        client.end();
        await waitFor("the server let go of it", () => openConnections(h) === 0);
        return error;
      };
      for (let i = 0; i < 4; i++) assert.match((await badKex()).message, /cipher|handshake/i);
      let lines = h.lines("sftp-server.ssh-error");
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0]!, /peer=127\.0\.0\.1 .*cipher.* errors=1/i);
      // 5 s later, the next one's line says how many it stands for.
      clock.advance(5_000);
      await badKex();
      lines = h.lines("sftp-server.ssh-error");
      assert.equal(lines.length, 2, lines.join("\n"));
      assert.match(lines[1]!, /peer=127\.0\.0\.1 .* errors=4/);
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp logs clients that pick SHA-1 host key signatures once a minute per address, not once each",
  async () => {
    const h = await startHosted({ hostKey: (await testKey("rsa_host")).privateKey });
    try {
      for (let i = 0; i < 3; i++) {
        const client = new ssh2.Client();
        const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
        client.on("error", () => {});
        client.connect({
          host: "127.0.0.1",
          port: h.server.port,
          username: "alice",
          privateKey: h.alice.privateKey,
          algorithms: { serverHostKey: ["ssh-rsa"] },
          readyTimeout: 10_000,
        });
        await closed;
        await waitFor("the server let go of it", () => openConnections(h) === 0);
      }
      const refused = h.lines("sftp-server.refused");
      assert.equal(refused.length, 1, refused.join("\n"));
      assert.match(refused[0]!, /peer=127\.0\.0\.1 reason=".*SHA-1 \(ssh-rsa\) host key/);
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp logs each failed login up to the lockout, then those of connections opened before it once per 5 s",
  async () => {
    const h = await startHosted({ maxFailedLoginsPerIp: 2 });
    try {
      // Five connections past their key exchange, all waiting to offer a key: all admitted
      // before any fails.
      let waiting = 0;
      let go!: () => void;
      const gate = new Promise<void>((resolve) => (go = resolve));
      const closes = Array.from({ length: 5 }, () => {
        const client = new ssh2.Client();
        const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
        client.on("error", () => {});
        let offered = false;
        client.connect({
          host: "127.0.0.1",
          port: h.server.port,
          username: "alice",
          readyTimeout: 10_000,
          authHandler: (_left, _partial, next) => {
            // false: no more methods (ssh2 takes it; its types leave it out).
            if (offered) return next(false as unknown as ssh2.AnyAuthMethod);
            offered = true;
            waiting++;
            void gate.then(() =>
              next({ type: "publickey", username: "alice", key: h.stranger.privateKey })
            );
          },
        });
        return closed;
      });
      await waitFor("all five waiting to log in", () => waiting === 5);
      go();
      await Promise.all(closes);
      await waitFor("all five failures counted", () => openConnections(h) === 0);
      await waitFor("the lines written", () => h.lines("sftp-server.login-failed").length >= 3);
      const lines = h.lines("sftp-server.login-failed");
      // failures=1, failures=2 (the lockout), then one line for the three after it.
      assert.equal(lines.length, 3, lines.join("\n"));
      assert.match(lines[1]!, /failures=2 limit=2 locked=true/);
      assert.match(lines[2]!, /failures=3 limit=2 locked=true/);
    } finally {
      await h.stop();
    }
  },
);
