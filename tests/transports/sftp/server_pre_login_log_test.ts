/**
 * The hosted SFTP server names a connection that ends before it logs in: one
 * `sftp-server.closed-before-login` line with the peer, the phase it reached and why, in the
 * counterparty's terms (a failed key exchange with what the client offered and what the engine
 * accepts; a client that is not an SSH client; a port probe at DEBUG only; a client that offered
 * no key), at most one per address and phase every 5 s with how many connections it stands for;
 * and a good client still logs in after a flood. Real loopback sockets, ssh2 clients, the
 * server's manual clock.
 */

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { readToClose, sendAndClose } from "../../helpers/log_flood.ts";
import { waitFor } from "../../helpers/net.ts";
import { testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { connectHosted, stat } from "./hosted_client.ts";
import { type Hosted, startHosted } from "./server_fixture.ts";
import { ClientOpening } from "../../../transports/sftp/pre_login_log.ts";

/** The fixture makes its keys with ssh-keygen. */
const sshTest = testNeeding("ssh-keygen");
/** And with OpenSSH's own client. */
const openSshTest = testNeeding("ssh-keygen", "sftp");

const enc = new TextEncoder();
const EVENT = "sftp-server.closed-before-login";

function openConnections(h: Hosted): number {
  return Object.values(h.server.connections()).reduce((a, b) => a + b, 0);
}

/** The `closed-before-login` lines at `level` (DEBUG, INFO, WARN) and `phase`. */
function lines(h: Hosted, level?: string, phase?: string): string[] {
  return h.lines(EVENT).filter((l) =>
    (!level || l.includes(` ${level.padEnd(5)} `)) && (!phase || l.includes(` phase=${phase} `))
  );
}

/** An ssh2 client with `algorithms`; resolves with its error once it is closed. */
async function connectWith(
  h: Hosted,
  options: Partial<ssh2.ConnectConfig>,
): Promise<Error | undefined> {
  const client = new ssh2.Client();
  let error: Error | undefined;
  const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
  client.on("error", (e) => (error ??= e));
  client.connect({
    host: "127.0.0.1",
    port: h.server.port,
    username: "alice",
    privateKey: h.alice.privateKey,
    readyTimeout: 10_000,
    ...options,
  });
  await closed;
  return error;
}

/** An SSH-2 banner and a KEXINIT offering only `cipher` (in clear, as a client sends them). */
function bannerAndKexinit(cipher: string): Uint8Array {
  const lists = [
    "curve25519-sha256",
    "ssh-ed25519",
    cipher,
    cipher,
    "hmac-sha2-256",
    "hmac-sha2-256",
    "none",
    "none",
    "",
    "",
  ];
  const parts: number[] = [20, ...new Array(16).fill(7)];
  for (const list of lists) {
    const bytes = enc.encode(list);
    parts.push(0, 0, (bytes.length >> 8) & 0xff, bytes.length & 0xff, ...bytes);
  }
  parts.push(0, 0, 0, 0, 0); // first_kex_packet_follows, reserved
  let padding = 8 - ((5 + parts.length) % 8);
  if (padding < 4) padding += 8;
  const length = 1 + parts.length + padding;
  const packet = [length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff];
  packet.push(padding, ...parts, ...new Array(padding).fill(0));
  const banner = enc.encode("SSH-2.0-PartnerSftp_1.0\r\n");
  const out = new Uint8Array(banner.length + packet.length);
  out.set(banner);
  out.set(packet, banner.length);
  return out;
}

/** A good client logs in and is served. */
async function goodClientServed(h: Hosted): Promise<void> {
  const good = await connectHosted(h);
  try {
    assert.ok((await stat(good.sftp, "/")).isDirectory());
  } finally {
    await good.end();
  }
}

sshTest(
  "hosted sftp logs a client that shares no cipher or key exchange with the engine in one WARN key-exchange line with what it offered and what the engine accepts",
  async () => {
    const h = await startHosted({ clock: new ManualClock() });
    try {
      const error = await connectWith(h, { algorithms: { cipher: ["aes128-cbc"] } });
      assert.match(String(error?.message), /cipher|handshake/i);
      await waitFor("the cipher line", () => lines(h, "WARN", "key-exchange").length === 1);
      assert.match(
        lines(h, "WARN", "key-exchange")[0]!,
        /WARN {2}sftp-server\.closed-before-login peer=127\.0\.0\.1 phase=key-exchange reason="Handshake failed: no matching C->S cipher" client=SSH-2\.0-ssh2js[^ ]* offered=aes128-cbc accepted=[^ ]*aes128-gcm@openssh\.com[^ ]* connections=1$/,
      );
      assert.doesNotMatch(lines(h, "WARN", "key-exchange")[0]!, /accepted=[^ ]*cbc/);
      // A key exchange method the engine does not take: its own phase line is per 5 s, so this
      // one's key is the same (address and phase) and it is only counted…
      await connectWith(h, { algorithms: { kex: ["diffie-hellman-group14-sha1"] } });
      await waitFor("the server let go of it", () => openConnections(h) === 0);
      assert.equal(lines(h, "WARN", "key-exchange").length, 1);
      assert.deepEqual(lines(h, "INFO"), []);
      await goodClientServed(h);
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp names the key exchange method a client offers when none is in common",
  async () => {
    const h = await startHosted();
    try {
      await connectWith(h, { algorithms: { kex: ["diffie-hellman-group14-sha1"] } });
      await waitFor("the kex line", () => lines(h, "WARN", "key-exchange").length === 1);
      assert.match(
        lines(h, "WARN", "key-exchange")[0]!,
        /peer=127\.0\.0\.1 phase=key-exchange reason="Handshake failed: no matching key exchange algorithm" client=[^ ]+ offered=diffie-hellman-group14-sha1 accepted=[^ ]*curve25519-sha256[^ ]* connections=1$/,
      );
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp logs a client that sends an HTTP request as not an SSH client, and a port probe at DEBUG only",
  async () => {
    const h = await startHosted();
    try {
      await sendAndClose(h.server.port, enc.encode("GET / HTTP/1.1\r\n\r\n"));
      await waitFor("the not-SSH line", () => lines(h, "WARN", "banner").length === 1);
      assert.match(
        lines(h, "WARN", "banner")[0]!,
        /peer=127\.0\.0\.1 phase=banner reason="not an SSH client: it sent \\"GET \/ HTTP\/1\.1\\" \(an HTTP request\); SFTP needs an SSH client" connections=1$/,
      );
      // Connect and close without a byte (a load balancer's check): DEBUG, no WARN or INFO.
      const probe = await Deno.connect({ hostname: "127.0.0.1", port: h.server.port });
      probe.close();
      await waitFor("the probe's DEBUG line", () => lines(h, "DEBUG", "connect").length === 1);
      assert.match(
        lines(h, "DEBUG", "connect")[0]!,
        /peer=127\.0\.0\.1 phase=connect .*connections=1$/,
      );
      assert.equal(lines(h, "WARN").length, 1);
      assert.deepEqual(lines(h, "INFO"), []);
      await goodClientServed(h);
      // A login is no line of this kind.
      assert.equal(h.lines(EVENT).length, 2);
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp logs a client that says nothing until the login grace ends at INFO, and an SSH-1 banner as a WARN",
  async () => {
    const h = await startHosted({ loginGraceMs: 300 });
    try {
      // Waits for a greeting it does not know (an FTP client): closed by the server at the grace.
      await readToClose(await Deno.connect({ hostname: "127.0.0.1", port: h.server.port }));
      await waitFor("the silent line", () => lines(h, "INFO", "connect").length === 1);
      assert.match(
        lines(h, "INFO", "connect")[0]!,
        /peer=127\.0\.0\.1 phase=connect reason="sent nothing: no login within 0\.3 s; not an SSH client [^"]*" connections=1$/,
      );
      await sendAndClose(h.server.port, enc.encode("SSH-1.5-OldClient\r\n"));
      await waitFor("the SSH-1 line", () => lines(h, "WARN", "banner").length === 1);
      assert.match(
        lines(h, "WARN", "banner")[0]!,
        /phase=banner reason="its banner is not SSH-2 [^"]*" client=SSH-1\.5-OldClient connections=1$/,
      );
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp logs a client that passes the key exchange but offers no key, at INFO, naming the user it asked for and the grace",
  async () => {
    const clock = new ManualClock();
    const h = await startHosted({ clock, loginGraceMs: 300 });
    try {
      // Asks which methods are allowed ("none"), then has nothing to offer.
      let asked = false;
      await connectWith(h, {
        authHandler: (_left, _partial, next) => {
          if (asked) return next(false as unknown as ssh2.AnyAuthMethod);
          asked = true;
          next({ type: "none", username: "carol" });
        },
      });
      await waitFor("the login line", () => lines(h, "INFO", "login").length === 1);
      assert.match(
        lines(h, "INFO", "login")[0]!,
        /peer=127\.0\.0\.1 phase=login reason="closed after the key exchange, asking to log in as \\"carol\\" but offering no key; the engine takes public keys only" client=SSH-2\.0-ssh2js[^ ]* connections=1$/,
      );
      // One that says nothing past the key exchange: closed when the grace ends (5 s later on
      // the clock: a line of its own).
      clock.advance(5_000);
      await connectWith(h, { authHandler: () => {} });
      await waitFor("the grace line", () => lines(h, "INFO", "login").length === 2);
      assert.match(
        lines(h, "INFO", "login")[1]!,
        /phase=login reason="no login within 0\.3 s: the key exchange succeeded, then it waited without asking to log in" .*connections=1$/,
      );
      assert.deepEqual(lines(h, "WARN"), []);
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp logs 200 connections from one address that end before login in a few lines per 5 s with their count, and still serves a good client",
  async () => {
    const clock = new ManualClock();
    const h = await startHosted({ clock, maxConnectionsPerIp: 100 });
    const kinds = [
      // A port probe.
      () => Deno.connect({ hostname: "127.0.0.1", port: h.server.port }).then((c) => c.close()),
      // Not an SSH client.
      () => sendAndClose(h.server.port, enc.encode("GET / HTTP/1.1\r\n\r\n")),
      // An SSH client offering only a CBC cipher.
      () => sendAndClose(h.server.port, bannerAndKexinit("aes128-cbc")),
    ];
    /** `n` connections of each kind, 6 at a time; waits until the server let go of them all. */
    const flood = async (n: number) => {
      const jobs = Array.from({ length: n * kinds.length }, (_, i) => kinds[i % kinds.length]!);
      await Promise.all(Array.from({ length: 6 }, async () => {
        for (let job = jobs.shift(); job; job = jobs.shift()) await job();
      }));
      await waitFor("the server let go of them", () => openConnections(h) === 0);
    };
    try {
      await flood(67); // 201
      // One line per phase: the first of each.
      await waitFor("three lines", () => h.lines(EVENT).length === 3);
      assert.equal(lines(h, "DEBUG", "connect").length, 1);
      assert.match(lines(h, "WARN", "banner")[0]!, /connections=1$/);
      assert.match(
        lines(h, "WARN", "key-exchange")[0]!,
        /reason="Handshake failed: no matching C->S cipher" client=SSH-2\.0-PartnerSftp_1\.0 offered=aes128-cbc accepted=.* connections=1$/,
      );
      assert.deepEqual(h.lines("sftp-server.refused"), []);
      await goodClientServed(h);
      // 5 s later, the next of each says how many it stands for.
      clock.advance(5_000);
      await flood(1);
      await waitFor("six lines", () => h.lines(EVENT).length === 6);
      assert.match(lines(h, "DEBUG", "connect")[1]!, /connections=67$/);
      assert.match(lines(h, "WARN", "banner")[1]!, /connections=67$/);
      assert.match(lines(h, "WARN", "key-exchange")[1]!, /connections=67$/);
      assert.deepEqual(lines(h, "INFO"), []);
      await goodClientServed(h);
      assert.equal(h.lines(EVENT).length, 6);
    } finally {
      await h.stop();
    }
  },
);

openSshTest(
  "hosted sftp tells why OpenSSH's sftp got no further: a key exchange method it alone offers, or a host key it does not trust",
  async () => {
    const clock = new ManualClock();
    const h = await startHosted({ clock });
    try {
      const old = await h.sftp(["ls"], {
        args: ["-o", "KexAlgorithms=diffie-hellman-group14-sha1"],
      });
      assert.equal(old.success, false);
      await waitFor("the kex line", () => lines(h, "WARN", "key-exchange").length === 1);
      assert.match(
        lines(h, "WARN", "key-exchange")[0]!,
        /reason="Handshake failed: no matching key exchange algorithm" client="SSH-2\.0-OpenSSH_[^"]*" offered=diffie-hellman-group14-sha1 accepted=[^ ]*curve25519-sha256[^ ]* connections=1$/,
      );
      // The partner's known_hosts holds another key for the engine (a host key changed, or the
      // wrong one pinned): its client closes during the key exchange.
      clock.advance(5_000);
      const other = await testKey("other_host", { type: "ed25519" });
      const knownHosts = `${h.dir}/known_hosts`;
      const hostKeyLine = other.publicKey.split(" ").slice(0, 2).join(" ");
      await Deno.writeTextFile(knownHosts, `[127.0.0.1]:${h.server.port} ${hostKeyLine}\n`);
      const run = await new Deno.Command("sftp", {
        args: [
          "-b",
          "/dev/null",
          "-i",
          h.alice.privatePath,
          "-P",
          String(h.server.port),
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          `UserKnownHostsFile=${knownHosts}`,
          "-o",
          "BatchMode=yes",
          "alice@127.0.0.1",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(run.success, false);
      assert.match(new TextDecoder().decode(run.stderr), /HOST IDENTIFICATION HAS CHANGED/);
      await waitFor("the host key line", () => lines(h, "WARN", "key-exchange").length === 2);
      const line = lines(h, "WARN", "key-exchange")[1]!;
      assert.match(
        line,
        /reason="closed during the key exchange: [^"]*host key[^"]*" client="SSH-2\.0-OpenSSH_/,
      );
      // Quoted when it holds a '+' or a '/'.
      const hostKey = h.server.hostKeyFingerprint;
      assert.ok(
        [hostKey, JSON.stringify(hostKey)].some((k) =>
          line.endsWith(` hostKey=${k} connections=1`)
        ),
        line,
      );
      assert.deepEqual(lines(h, "INFO"), []);
    } finally {
      await h.stop();
    }
  },
);

Deno.test("a client's banner and KEXINIT are read however its bytes are split, and then let go", () => {
  const bytes = bannerAndKexinit("aes128-cbc");
  for (const size of [1, 3, 7, 64, bytes.length]) {
    const socket = new EventEmitter();
    const opening = new ClientOpening();
    opening.watch(socket as unknown as Socket);
    for (let i = 0; i < bytes.length; i += size) socket.emit("data", bytes.subarray(i, i + size));
    assert.equal(opening.banner, "SSH-2.0-PartnerSftp_1.0", `split by ${size}`);
    assert.deepEqual(opening.offered?.[2], ["aes128-cbc"], `split by ${size}`);
    assert.deepEqual(opening.offered?.[0], ["curve25519-sha256"], `split by ${size}`);
    assert.equal(socket.listenerCount("data"), 0, `split by ${size}`);
  }
  // Not SSH: known from its first byte.
  const socket = new EventEmitter();
  const opening = new ClientOpening();
  opening.watch(socket as unknown as Socket);
  socket.emit("data", new TextEncoder().encode("G"));
  assert.match(String(opening.notSsh), /^not an SSH client: it sent "G"/);
  assert.equal(socket.listenerCount("data"), 0);
});
