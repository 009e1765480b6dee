/**
 * `limits.maxSftpConnections` reaches the hosted SFTP server as `main.ts serve` composes it: with a
 * cap of 2, a third connection is closed at accept, before the server's SSH banner.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../actors/config/mod.ts";
import { startEngine } from "../helpers/engine.ts";
import { waitFor } from "../helpers/net.ts";
import { testKey } from "../helpers/sshd.ts";
import { testNeeding } from "../helpers/system_tools.ts";
import { tempDir } from "../helpers/temp.ts";

/** Reads what the server sends on `conn` until its SSH banner or the end of the connection. */
async function greeting(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(256);
  const n = await conn.read(buf).catch(() => null);
  return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
}

testNeeding("ssh-keygen")(
  "limits.maxSftpConnections caps the composed hosted SFTP server: the connection past it gets no SSH banner",
  async () => {
    await using dir = await tempDir({ prefix: "sftp-cap-compose-" });
    const hostKey = await testKey("hosted_cap_host", { type: "ed25519" });
    const user = await testKey("hosted_cap_user");
    const parsed = parseConfig({
      node: { id: "cap" },
      kv: { path: `${dir.path}/engine.kv` },
      environments: [{ id: "dev", type: "development" }],
      integrations: [{ id: "uploads", environment: "dev" }],
      limits: { maxSftpConnections: 2 },
      sftpServer: {
        port: 0,
        hostname: "127.0.0.1",
        hostKey: { env: "SFTP_HOST_KEY" },
        root: `${dir.path}/sftp`,
        users: [{ name: "u", publicKeys: [user.publicKey], integration: "uploads" }],
      },
    }, {
      env: (name) => name === "SFTP_HOST_KEY" ? hostKey.privateKey : undefined,
      readFile: () => new Error("no files in this test"),
    });
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
    const running = await startEngine(parsed.config);
    const conns: Deno.Conn[] = [];
    try {
      const port = running.servers.sftp!.port;
      for (let i = 0; i < 2; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conns.push(conn);
        assert.match(await greeting(conn), /^SSH-2\.0-/, `connection ${i + 1} is greeted`);
      }
      const third = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(third);
      assert.equal(await greeting(third), "", "the third is closed before any banner");
      await waitFor(
        "the refusal logged",
        () => running.log.lines.some((l) => /sftp\.connection-refused.*cap=2/.test(l)),
      );
    } finally {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await running.stop();
    }
  },
);
