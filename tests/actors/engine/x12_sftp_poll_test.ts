/**
 * X12 on a polled SFTP integration against Debian's OpenSSH sshd: an 837 file on the remote
 * server is downloaded, split per transaction set and stored, its TA1 / 999 written to the
 * remote `x12.ackFolder` (through a temporary name, then renamed), and the file archived.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { listLogs } from "../../../actors/store/mod.ts";
import { parseX12 } from "../../../codecs/x12/mod.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { waitFor } from "../../helpers/net.ts";
import { startSshd, testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { wrap, X837I_BODY, X837P_BODY } from "../../codecs/x12/fixtures.ts";
import { tempDir } from "../../helpers/temp.ts";

const sshTest = testNeeding("sshd", "ssh-keygen");
const WAIT_MS = 15_000;

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.isDirectory ? `${e.name}/` : e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

sshTest(
  "polled SFTP X12: the file is split and stored, its 999 written to the remote ackFolder, the file archived",
  async () => {
    await using dir = await tempDir({ prefix: "x12-poll-" });
    const key = await testKey("x12_poll_engine");
    const sshd = await startSshd({ authorizedKeys: [key.publicKey] });
    let e: TestEngine | undefined;
    try {
      await Deno.mkdir(`${sshd.files}/claims`);
      const file = wrap([X837P_BODY, X837P_BODY, X837I_BODY], { control: 911 });
      await Deno.writeTextFile(`${sshd.files}/claims/claims-0911.x12`, file);
      const parsed = parseConfig({
        node: { id: "x12-poll" },
        kv: { path: `${dir.path}/engine.kv` },
        environments: [{ id: "dev", type: "development" }],
        integrations: [{
          id: "claims",
          environment: "dev",
          sftp: {
            host: "127.0.0.1",
            port: sshd.port,
            user: sshd.user,
            keys: [{ privateKey: { env: "ENGINE_KEY" } }],
            hostKeyFingerprint: sshd.hostKey.fingerprint,
            folder: "claims",
            pattern: "*.x12",
            intervalSeconds: 0.2,
          },
          x12: { acknowledge: true, ackFolder: "acks" },
        }],
      }, {
        env: (name) => name === "ENGINE_KEY" ? key.privateKey : undefined,
        readFile: () => new Error("no files in these tests"),
      });
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
      e = await startEngine(parsed.config);

      // The 999 appears under its final name only (written to a temporary name, then renamed).
      const acks = `${sshd.files}/claims/acks`;
      await waitFor("the 999 in the ack folder", async () => {
        const there = await names(acks);
        return there.includes("claims-0911.999");
      }, WAIT_MS);
      assert.deepEqual(await names(acks), ["claims-0911.999"]);
      const ack = parseX12(await Deno.readTextFile(`${acks}/claims-0911.999`)).interchanges[0]!;
      assert.equal(ack.sender.id, "RECEIVERID");
      assert.equal(ack.receiver.id, "SUBMITTERID");
      assert.deepEqual(ack.ta1.map((s) => [s.elements[1], s.elements[4]]), [["000000911", "A"]]);
      const groups = ack.groups.map((g) => g.transactions[0]!.segments.map((s) => s.text));
      assert.equal(groups.length, 2, "one 999 per functional group");
      assert.ok(groups[0]!.includes("AK9*A*2*2*2"), groups[0]!.join("~"));
      assert.ok(groups[1]!.includes("AK9*A*1*1*1"), groups[1]!.join("~"));

      // Split per transaction set and stored; the file archived on the remote server.
      const { logs } = await listLogs(e.engine.store.kv, {
        type: "RECEIVE",
        integrationId: "claims",
        limit: 50,
      });
      assert.deepEqual(logs.map((l) => l.controlId).sort(), [
        "000000911/1/0001",
        "000000911/1/0002",
        "000000911/2/0003",
      ]);
      await waitFor("the file archived", async () => {
        const left = await names(`${sshd.files}/claims`);
        return !left.includes("claims-0911.x12") &&
          (await names(`${sshd.files}/claims/archive`)).includes("claims-0911.x12");
      }, WAIT_MS);
    } finally {
      await e?.close();
      await sshd.stop();
    }
  },
);
