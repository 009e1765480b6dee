/**
 * The hosted SFTP folder against OpenSSH's `sftp` command-line client in batch mode: uploads,
 * listings, downloads, confinement to the user's folder, keys, limits and interrupted uploads.
 */

import assert from "node:assert/strict";
import { waitFor } from "../../helpers/net.ts";
import { testKey } from "../../helpers/sshd.ts";
import { startHosted } from "./server_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
/** These tests drive sftp, ssh-keygen as a real peer. */
const sshTest = testNeeding("sftp", "ssh-keygen");

const encoder = new TextEncoder();
const ADT = "MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||ORU^R01|F1|P|2.5.1\rPID|1||42\r";

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.isDirectory ? `${e.name}/` : e.name);
  return out.sort();
}

sshTest("hosted sftp takes an upload in when the client closes it, then archives it", async () => {
  const h = await startHosted();
  try {
    await Deno.writeTextFile(`${h.dir}/results.hl7`, ADT);
    const r = await h.sftp(["put results.hl7", "ls -l", "ls archive"]);
    assert.equal(r.success, true, r.stderr);
    assert.equal(h.uploads.length, 1);
    const [u] = h.uploads;
    assert.equal(u!.user, "alice");
    assert.equal(u!.integration, "lab");
    assert.equal(u!.path, "/results.hl7");
    assert.equal(u!.fileName, "results.hl7");
    assert.equal(u!.peer, "127.0.0.1");
    assert.equal(new TextDecoder().decode(u!.bytes), ADT);
    // Taken in before the client's close was answered: the listing right after shows it archived.
    assert.match(r.stdout, /sftp> ls archive\narchive\/results\.hl7/);
    assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/"]);
    assert.equal(await Deno.readTextFile(`${h.root}/alice/archive/results.hl7`), ADT);
    // Uploading the same name again archives it beside the first.
    const again = await h.sftp(["put results.hl7"]);
    assert.equal(again.success, true, again.stderr);
    assert.equal(h.uploads.length, 2);
    const archived = await files(`${h.root}/alice/archive`);
    assert.equal(archived.length, 2, String(archived));
    assert.equal(h.lines("sftp-server.upload-taken").length, 2);
  } finally {
    await h.stop();
  }
});

sshTest(
  "hosted sftp offers outbox files for download, lets them be removed, refuses writes there",
  async () => {
    const h = await startHosted();
    try {
      const outbox = h.server.outbox("alice");
      await Deno.writeTextFile(`${outbox}/ack-1.hl7`, "MSH|^~\\&|ENGINE");
      // A delivery still being written (the deliverer's temporary name) is not offered.
      await Deno.writeTextFile(`${outbox}/.ack-2.hl7.part`, "MSH|half");
      await Deno.writeTextFile(`${h.dir}/mine.txt`, "x");
      const r = await h.sftp([
        "cd outbox",
        "ls -1",
        "get ack-1.hl7 got.hl7",
        "-get .ack-2.hl7.part half.hl7",
        "-put mine.txt",
        "rm ack-1.hl7",
      ]);
      assert.equal(r.success, true, r.stderr);
      assert.match(r.stdout, /sftp> ls -1\nack-1\.hl7\nsftp> get/);
      assert.equal(await Deno.readTextFile(`${h.dir}/got.hl7`), "MSH|^~\\&|ENGINE");
      await assert.rejects(Deno.stat(`${h.dir}/half.hl7`), Deno.errors.NotFound);
      assert.match(r.stderr, /Permission denied/);
      assert.deepEqual(await files(outbox), [".ack-2.hl7.part"]);
      assert.equal(h.uploads.length, 0);
      // Bob does not see alice's outbox.
      assert.ok(!h.server.outbox("bob").includes("/alice/"));
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp refuses paths that leave the user's folder: .., symlinks, another user",
  async () => {
    const h = await startHosted();
    try {
      const secret = `${h.dir}/outside`;
      await Deno.mkdir(secret);
      await Deno.writeTextFile(`${secret}/secret.txt`, "TOP SECRET");
      await Deno.writeTextFile(`${h.root}/bob/bobs.txt`, "bob's");
      // Someone on the host puts a link into alice's folder: it must not lead anywhere.
      await Deno.symlink(secret, `${h.root}/alice/link`);
      await Deno.symlink(`${secret}/secret.txt`, `${h.root}/alice/secret-link.txt`);
      await Deno.writeTextFile(`${h.dir}/payload.txt`, "escape");
      const attempts = [
        "get ../../outside/secret.txt a1",
        "get /../outside/secret.txt a2",
        "get ../bob/bobs.txt a3",
        "get link/secret.txt a4",
        "get secret-link.txt a5",
        `get ${secret}/secret.txt a6`,
        "put payload.txt ../escaped.txt",
        "put payload.txt link/escaped.txt",
        "ls ..",
        "cd ..",
        "symlink /etc/passwd pw",
      ];
      for (const command of attempts) {
        const r = await h.sftp([command]);
        assert.equal(r.success, false, `${command} succeeded:\n${r.stdout}`);
      }
      for (let i = 1; i <= 6; i++) {
        await assert.rejects(Deno.stat(`${h.dir}/a${i}`), Deno.errors.NotFound);
      }
      await assert.rejects(Deno.stat(`${h.root}/escaped.txt`), Deno.errors.NotFound);
      await assert.rejects(Deno.stat(`${secret}/escaped.txt`), Deno.errors.NotFound);
      await assert.rejects(Deno.stat(`${h.root}/alice/pw`), Deno.errors.NotFound);
      assert.equal(h.uploads.length, 0);
      const denied = h.lines("sftp-server.denied").join("\n");
      assert.match(denied, /the path leaves your folder/);
      assert.match(denied, /symbolic links are not followed/);
      assert.match(denied, /symbolic links are not allowed/);
      // The listing does not show the links either.
      const r = await h.sftp(["ls -1a"]);
      assert.equal(r.success, true, r.stderr);
      assert.doesNotMatch(r.stdout, /link/);
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp accepts either of a user's rotated keys and refuses an unknown key",
  async () => {
    const h = await startHosted();
    try {
      for (const key of [h.alice, h.aliceOld]) {
        const r = await h.sftp(["pwd"], { key });
        assert.equal(r.success, true, r.stderr);
        assert.match(r.stdout, /Remote working directory: \//);
      }
      const described = h.server.describe() as { users: { name: string; keys: string[] }[] };
      assert.deepEqual(described.users.find((u) => u.name === "alice")?.keys, [
        h.aliceOld.fingerprint,
        h.alice.fingerprint,
      ]);
      assert.equal(h.server.describe().hostKeyFingerprint, h.host.fingerprint);
      const logins = h.lines("sftp-server.login");
      assert.equal(logins.length, 2);
      assert.ok(logins[0]!.includes(h.alice.fingerprint), logins[0]);
      assert.ok(logins[1]!.includes(h.aliceOld.fingerprint), logins[1]);
      const wrong = await h.sftp(["pwd"], { key: h.stranger });
      assert.equal(wrong.success, false);
      assert.match(wrong.stderr, /Permission denied \(publickey\)/);
      // bob's key does not open alice's folder.
      const bob = await h.sftp(["pwd"], { user: "bob", key: h.alice });
      assert.equal(bob.success, false);
      await waitFor("the failures logged", () => h.lines("sftp-server.login-failed").length === 2);
      const failed = h.lines("sftp-server.login-failed");
      assert.match(failed[0]!, /user=alice .*reason="key not authorised for this user"/);
      assert.match(failed[1]!, /user=bob .*reason="key not authorised for this user"/);
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp with an RSA host key refuses clients that pick SHA-1 host key signatures",
  async () => {
    const h = await startHosted({ hostKey: (await testKey("rsa_host")).privateKey });
    try {
      const modern = await h.sftp(["pwd"]);
      assert.equal(modern.success, true, modern.stderr);
      const sha1 = await h.sftp(["pwd"], { args: ["-o", "HostKeyAlgorithms=ssh-rsa"] });
      assert.equal(sha1.success, false, sha1.stdout);
      assert.match(h.lines("sftp-server.refused").join("\n"), /SHA-1 \(ssh-rsa\) host key/);
      assert.equal(h.lines("sftp-server.login").length, 1);
    } finally {
      await h.stop();
    }
  },
);

sshTest("hosted sftp refuses SHA-1 RSA signatures and CBC ciphers", async () => {
  const h = await startHosted();
  try {
    const sha1 = await h.sftp(["pwd"], {
      args: ["-o", "PubkeyAcceptedAlgorithms=ssh-rsa"],
    });
    assert.equal(sha1.success, false, sha1.stdout);
    await waitFor("the refusal logged", () => h.lines("sftp-server.login-failed").length === 1);
    assert.match(h.lines("sftp-server.login-failed")[0]!, /SHA-1/);
    const cbc = await h.sftp(["pwd"], { args: ["-o", "Ciphers=aes128-cbc"] });
    assert.equal(cbc.success, false, cbc.stdout);
    await waitFor(
      "the handshake failure logged",
      () => h.lines("sftp-server.ssh-error").length > 0,
    );
    assert.match(h.lines("sftp-server.ssh-error").join("\n"), /cipher/i);
  } finally {
    await h.stop();
  }
});

sshTest(
  "hosted sftp discards an upload cut off mid-file and hands nothing to onUpload",
  async () => {
    const h = await startHosted();
    try {
      const size = 8 * 1024 * 1024;
      await Deno.writeFile(`${h.dir}/big.bin`, new Uint8Array(size).fill(65));
      const staged = async () => {
        for await (const e of Deno.readDir(`${h.root}/alice`)) {
          if (e.name.endsWith(".upload")) {
            return (await Deno.stat(`${h.root}/alice/${e.name}`))
              .size;
          }
        }
        return 0;
      };
      const r = await h.sftp(["put big.bin"], {
        // 16 Mbit/s: the 8 MiB upload takes about 4 s, plenty of time to cut it at 1 MiB.
        args: ["-l", "16000"],
        during: async (child) => {
          await waitFor("1 MiB uploaded", async () => (await staged()) >= 1024 * 1024);
          child.kill("SIGKILL");
        },
      });
      assert.equal(r.success, false);
      await waitFor(
        "the interruption logged",
        () => h.lines("sftp-server.upload-interrupted").length === 1,
      );
      assert.equal(h.uploads.length, 0);
      assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/"]);
      assert.deepEqual(await files(`${h.root}/alice/archive`), []);
      // A rescan (as after a restart) finds nothing to take in either.
      await h.server.rescan();
      assert.equal(h.uploads.length, 0);
      // The whole file, sent again, goes through.
      const again = await h.sftp(["put big.bin"]);
      assert.equal(again.success, true, again.stderr);
      assert.equal(h.uploads.length, 1);
      assert.equal(h.uploads[0]!.bytes.length, size);
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp leaves a file the engine could not store in place, says so, and retries it",
  async () => {
    const h = await startHosted();
    try {
      let refuse = true;
      const stored: string[] = [];
      h.setOnUpload((u) => {
        if (refuse) return Promise.reject(new Error("KV is down"));
        stored.push(u.path);
        return Promise.resolve();
      });
      await Deno.writeTextFile(`${h.dir}/r.hl7`, ADT);
      const r = await h.sftp(["put r.hl7"]);
      assert.equal(r.success, false);
      assert.match(h.lines("sftp-server.upload-not-stored").join("\n"), /KV is down/);
      assert.equal(await Deno.readTextFile(`${h.root}/alice/r.hl7`), ADT);
      assert.deepEqual(await files(`${h.root}/alice/archive`), []);
      refuse = false;
      await h.server.rescan();
      assert.deepEqual(stored, ["/r.hl7"]);
      assert.deepEqual(await files(`${h.root}/alice/archive`), ["r.hl7"]);
      assert.deepEqual(await files(`${h.root}/alice`), ["archive/", "outbox/"]);
    } finally {
      await h.stop();
    }
  },
);

sshTest(
  "hosted sftp takes a .filepart upload in only when it is renamed to its final name",
  async () => {
    const h = await startHosted();
    try {
      await Deno.writeTextFile(`${h.dir}/lab.hl7`, ADT);
      const r = await h.sftp(["put lab.hl7 lab.hl7.filepart", "ls -1"]);
      assert.equal(r.success, true, r.stderr);
      assert.equal(h.uploads.length, 0);
      assert.match(r.stdout, /lab\.hl7\.filepart/);
      await h.server.rescan();
      assert.equal(h.uploads.length, 0, "a rescan took a held-back name in");
      const renamed = await h.sftp(["rename lab.hl7.filepart lab.hl7"]);
      assert.equal(renamed.success, true, renamed.stderr);
      assert.deepEqual(h.uploads.map((u) => u.path), ["/lab.hl7"]);
      assert.deepEqual(await files(`${h.root}/alice/archive`), ["lab.hl7"]);
    } finally {
      await h.stop();
    }
  },
);

sshTest("hosted sftp refuses an upload over the size limit and keeps nothing of it", async () => {
  const h = await startHosted({ maxFileBytes: 100_000 });
  try {
    await Deno.writeFile(`${h.dir}/huge.bin`, new Uint8Array(300_000));
    await Deno.writeFile(`${h.dir}/small.bin`, encoder.encode(ADT));
    const r = await h.sftp(["put huge.bin"]);
    assert.equal(r.success, false);
    assert.match(r.stderr, /write remote "\/huge\.bin": Failure/);
    assert.equal(h.uploads.length, 0);
    await waitFor("the refusal logged", () => h.lines("sftp-server.upload-too-large").length === 1);
    await waitFor("nothing left", async () => (await files(`${h.root}/alice`)).length === 2);
    const ok = await h.sftp(["put small.bin"]);
    assert.equal(ok.success, true, ok.stderr);
    assert.equal(h.uploads.length, 1);
  } finally {
    await h.stop();
  }
});

sshTest(
  "hosted sftp limits connections per address and locks an address out after failed logins",
  async () => {
    const h = await startHosted({ maxConnectionsPerIp: 1, maxFailedLoginsPerIp: 2 });
    try {
      // One connection held open (an interactive sftp waiting on stdin)...
      const holder = new Deno.Command("sftp", {
        args: [
          "-i",
          h.alice.privatePath,
          "-P",
          String(h.server.port),
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "BatchMode=yes",
          "alice@127.0.0.1",
        ],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await waitFor("the first login", () => h.lines("sftp-server.login").length === 1);
        // ... so a second one is refused at once.
        const second = await h.sftp(["pwd"]);
        assert.equal(second.success, false);
        assert.match(
          h.lines("sftp-server.refused").join("\n"),
          /already 1 connections \(limit 1\)/,
        );
      } finally {
        await holder.stdin.close();
        await holder.status;
      }
      await waitFor(
        "the first connection closed",
        () => Object.keys(h.server.connections()).length === 0,
      );
      for (let i = 1; i <= 2; i++) {
        const wrong = await h.sftp(["pwd"], { key: h.stranger });
        assert.equal(wrong.success, false);
        await waitFor(
          `failure ${i} counted`,
          () => h.lines("sftp-server.login-failed").length === i,
        );
      }
      assert.match(h.lines("sftp-server.login-failed")[1]!, /failures=2 limit=2 locked=true/);
      // Now even the right key is refused from this address, before any SSH is spoken.
      const locked = await h.sftp(["pwd"]);
      assert.equal(locked.success, false);
      assert.match(h.lines("sftp-server.refused").at(-1)!, /2 failed logins; refused for 15 min/);
    } finally {
      await h.stop();
    }
  },
);
