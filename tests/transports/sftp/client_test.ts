/**
 * The ssh2 SFTP connector against Debian's OpenSSH sshd (internal-sftp, key-only login) on a
 * loopback port with a throwaway host key.
 */

import assert from "node:assert/strict";
import {
  FileTooLargeError,
  HostKeyMismatchError,
  SftpAuthError,
  type SftpConnectOptions,
} from "../../../actors/sftp/connector.ts";
import { SshSftpConnector } from "../../../transports/sftp/client.ts";
import { type Sshd, startSshd, startTcpProxy, testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
/** These tests drive sshd, ssh-keygen as a real peer. */
const sshTest = testNeeding("sshd", "ssh-keygen");

const connector = new SshSftpConnector();

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

async function withSshd(
  fn: (sshd: Sshd, login: SftpConnectOptions) => Promise<void>,
): Promise<void> {
  const key = await testKey("client_rsa");
  const sshd = await startSshd({ authorizedKeys: [key.publicKey] });
  try {
    await fn(sshd, {
      host: "127.0.0.1",
      port: sshd.port,
      user: sshd.user,
      privateKey: key.privateKey,
      hostKeyFingerprint: sshd.hostKey.fingerprint,
      timeoutMs: 10_000,
    });
  } finally {
    await sshd.stop();
  }
}

sshTest(
  "sftp client writes, lists, reads back, renames and removes files on OpenSSH sshd",
  async () => {
    await withSshd(async (sshd, login) => {
      const session = await connector.connect(login);
      try {
        assert.equal(session.open, true);
        assert.match(session.local ?? "", /^127\.0\.0\.1:\d+$/);
        // Larger than many pipelined chunks and not a multiple of the chunk size.
        const big = randomBytes(3 * 1024 * 1024 + 777);
        await session.mkdir("in/deep/er", { recursive: true });
        await session.write("in/deep/er/a.bin", big);
        assert.deepEqual(await Deno.readFile(`${sshd.files}/in/deep/er/a.bin`), big);
        const listed = await session.list("in/deep/er");
        assert.deepEqual(listed.map((e) => [e.name, e.size, e.isFile]), [[
          "a.bin",
          big.length,
          true,
        ]]);
        const read = await session.read("in/deep/er/a.bin", { maxBytes: big.length });
        assert.deepEqual(read, big);
        await session.rename("in/deep/er/a.bin", "in/b.bin");
        assert.equal(await session.stat("in/deep/er/a.bin"), undefined);
        const stat = await session.stat("in/b.bin");
        assert.equal(stat?.size, big.length);
        assert.equal(stat?.isFile, true);
        assert.equal((await session.stat("in/deep"))?.isDirectory, true);
        await session.remove("in/b.bin");
        assert.equal(await session.stat("in/b.bin"), undefined);
        // An empty file round-trips too.
        await session.write("empty.txt", new Uint8Array());
        assert.equal((await session.read("empty.txt", { maxBytes: 10 })).length, 0);
        // Absolute paths work as well as paths relative to the login folder.
        assert.equal((await session.stat(`${sshd.files}/empty.txt`))?.size, 0);
        assert.ok(sshd.lines.some((l) => l.includes("Accepted publickey")), sshd.lines.join("\n"));
      } finally {
        session.close();
      }
      assert.equal(session.open, false);
    });
  },
);

sshTest(
  "sftp client refuses a changed host key and names the expected and actual fingerprints",
  async () => {
    await withSshd(async (sshd, login) => {
      const other = await testKey("other_host", { type: "ed25519" });
      await assert.rejects(
        connector.connect({ ...login, hostKeyFingerprint: other.fingerprint }),
        (error: unknown) => {
          assert.ok(error instanceof HostKeyMismatchError, String(error));
          assert.equal(error.expected, other.fingerprint);
          assert.equal(error.actual, sshd.hostKey.fingerprint);
          assert.ok(error.message.includes(other.fingerprint), error.message);
          assert.ok(error.message.includes(sshd.hostKey.fingerprint), error.message);
          return true;
        },
      );
      // The pinned one still works (the fingerprint format matches ssh-keygen -lf).
      (await connector.connect(login)).close();
    });
  },
);

sshTest("sftp client login with a key sshd does not know is refused as an auth error", async () => {
  await withSshd(async (_sshd, login) => {
    const stranger = await testKey("stranger");
    await assert.rejects(
      connector.connect({ ...login, privateKey: stranger.privateKey }),
      SftpAuthError,
    );
  });
});

sshTest(
  "sftp client logs in with a passphrase-protected key and rejects a wrong passphrase",
  async () => {
    const key = await testKey("locked", { passphrase: "open sesame" });
    const sshd = await startSshd({ authorizedKeys: [key.publicKey] });
    try {
      const login = {
        host: "127.0.0.1",
        port: sshd.port,
        user: sshd.user,
        privateKey: key.privateKey,
        hostKeyFingerprint: sshd.hostKey.fingerprint,
      };
      (await connector.connect({ ...login, passphrase: "open sesame" })).close();
      await assert.rejects(
        connector.connect({ ...login, passphrase: "wrong" }),
        (error: unknown) => {
          assert.match(String(error), /private key for 127\.0\.0\.1:\d+/);
          assert.ok(!String(error).includes("PRIVATE KEY"), "the key leaked into the error");
          return true;
        },
      );
    } finally {
      await sshd.stop();
    }
  },
);

sshTest("sftp client refuses a file over the limit before downloading it", async () => {
  await withSshd(async (sshd, login) => {
    await Deno.writeFile(`${sshd.files}/big.bin`, new Uint8Array(8 * 1024 * 1024));
    const proxy = startTcpProxy(sshd.port);
    const session = await connector.connect({ ...login, port: proxy.port });
    try {
      const before = proxy.down;
      await assert.rejects(
        session.read("big.bin", { maxBytes: 1024 * 1024 }),
        (error: unknown) => {
          assert.ok(error instanceof FileTooLargeError, String(error));
          assert.equal(error.size, 8 * 1024 * 1024);
          assert.equal(error.limit, 1024 * 1024);
          return true;
        },
      );
      assert.ok(proxy.down - before < 64 * 1024, `downloaded ${proxy.down - before} bytes`);
      // The session is still usable.
      assert.equal((await session.stat("big.bin"))?.size, 8 * 1024 * 1024);
    } finally {
      session.close();
      await proxy.stop();
    }
  });
});

sshTest("sftp client connect gives up at its timeout on a server that never speaks", async () => {
  const key = await testKey("k", { type: "ed25519" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) held.push(c);
  })();
  try {
    const started = Date.now();
    await assert.rejects(
      connector.connect({
        host: "127.0.0.1",
        port: (listener.addr as Deno.NetAddr).port,
        user: "x",
        privateKey: key.privateKey,
        hostKeyFingerprint: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        timeoutMs: 300,
      }),
      /no SSH login within 0\.3 s/,
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
  }
});
