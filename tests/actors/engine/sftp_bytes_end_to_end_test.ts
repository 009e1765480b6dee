/**
 * Files taken in keep their bytes, through the composed engine with real peers only: OpenSSH's
 * `sftp -b` uploads to the hosted folder, a raw MLLP receiver records what reaches it byte for
 * byte, and another hosted user's outbox shows what an `sftpOutbox` destination wrote. Every byte
 * 0x80-0xFF (UTF-8 continuation bytes, windows-1252 `…` `’`) arrives as it was in the file, a
 * message's last segment ends in CR as over MLLP, and a UTF-8 byte order mark gives no warning.
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import { listLogs, type LogRecord } from "../../../actors/store/mod.ts";
import type { Engine } from "../../../actors/engine/engine.ts";
import { buildAck, parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../../codecs/mllp/mod.ts";
import { latin1Decode, latin1Encode } from "../../../codecs/text/mod.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { waitFor } from "../../helpers/net.ts";
import { sftpBatch, testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { tempDir } from "../../helpers/temp.ts";
import { type SetBody, wrap, X837P_BODY } from "../../codecs/x12/fixtures.ts";

/** These tests drive OpenSSH's sftp client (and ssh-keygen for the keys) as the real peer. */
const sftpTest = testNeeding("sftp", "ssh-keygen");
const WAIT_MS = 15_000;
const enc = new TextEncoder();

/** Every byte 0x80-0xFF. */
const HIGH = Uint8Array.from({ length: 128 }, (_, i) => 0x80 + i);
/** Raw bytes for the placeholders of {@link bytesOf}. */
const RAW: Record<string, Uint8Array> = {
  "@HIGH@": HIGH,
  "@CP1252@": new Uint8Array([0x4f, 0x92, 0x42, 0x85]), // O’B… in windows-1252
  "@UTF8@": enc.encode("O’Brien–Straße Ærø Пётр"),
};

/** The bytes of ASCII `text` with each `@NAME@` placeholder replaced by its raw bytes. */
function bytesOf(text: string): Uint8Array {
  const chunks = text.split(/(@[A-Z0-9]+@)/).map((p) => RAW[p] ?? enc.encode(p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** An ADT^A01 whose PID-5 holds `name` (placeholders allowed). */
function adt(id: string, name: string, eol: string): string {
  return [
    `MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01^ADT_A01|${id}|P|2.5.1|||AL|NE`,
    "EVN|A01|20240315123000",
    `PID|1||${id}^^^HOSP^MR||${name}||19800101|F`,
    "PV1|1|I|4WEST^412^B",
  ].join(eol);
}

/** An MLLP receiver keeping each frame's bytes as they came, answering `AA`. */
function startByteReceiver() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Uint8Array[] = [];
  const conns = new Set<Deno.Conn>();
  const serve = async (conn: Deno.Conn) => {
    const decoder = new MllpDecoder();
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        for (const event of decoder.push(buf.subarray(0, n))) {
          if (event.type !== "frame") continue;
          received.push(event.payload.slice());
          const ack = buildAck(parseHl7(latin1Decode(event.payload)), { code: "AA" });
          const frame = encodeMllp(latin1Encode(ack.encode()));
          let off = 0;
          while (off < frame.length) off += await conn.write(frame.subarray(off));
        }
      }
    } catch {
      // Closed by the engine or by stop().
    } finally {
      conns.delete(conn);
    }
  };
  const tasks: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        tasks.push(serve(conn));
      }
    } catch {
      // The listener was closed.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    /** MSH-10 of each frame, in arrival order. */
    controlIds: () => received.map((m) => parseHl7(latin1Decode(m)).get("MSH-10") ?? ""),
    async stop() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await accepting;
      await Promise.all(tasks);
    },
  };
}

function configOf(value: unknown, secrets: Record<string, string>): Config {
  const parsed = parseConfig(value, {
    env: (name) => secrets[name],
    readFile: () => new Error("no files in these tests"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

async function logsOf(engine: Engine, integrationId: string): Promise<LogRecord[]> {
  const { logs } = await listLogs(engine.store.kv, { integrationId, limit: 500 });
  return logs.reverse();
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

sftpTest(
  "hosted SFTP: HL7 files holding every byte 0x80-0xFF reach an MLLP destination byte for byte, each ending in CR",
  async () => {
    await using dir = await tempDir({ prefix: "sftp-bytes-" });
    const [hostKey, clinicKey] = await Promise.all([
      testKey("bytes_e2e_host", { type: "ed25519" }),
      testKey("bytes_e2e_clinic"),
    ]);
    const ehr = startByteReceiver();
    let running: TestEngine | undefined;
    try {
      const config = configOf({
        node: { id: "bytes" },
        kv: { path: `${dir.path}/engine.kv` },
        environments: [{ id: "dev", type: "development" }],
        integrations: [{ id: "clinic-uploads", environment: "dev" }],
        sftpServer: {
          port: 0,
          hostname: "127.0.0.1",
          hostKey: { env: "SFTP_HOST_KEY" },
          root: `${dir.path}/sftp`,
          users: [{
            name: "clinic",
            publicKeys: [clinicKey.publicKey],
            integration: "clinic-uploads",
          }],
        },
        destinations: [{
          id: "ehr",
          environment: "dev",
          mllp: { host: "127.0.0.1", port: ehr.port },
        }],
        subscriptions: [{ from: { integration: "clinic-uploads" }, to: ["ehr"] }],
      }, { SFTP_HOST_KEY: hostKey.privateKey });
      running = await startEngine(config);
      const { engine, log } = running;
      const hosted = running.servers.sftp!;

      // 1. An FHS/BHS batch, CRLF line ends: PID-5 holds every byte 0x80-0xFF, windows-1252
      //    `’…` and UTF-8 `’–ßÆøП`.
      const name = "@HIGH@^@CP1252@^@UTF8@";
      const batch = bytesOf([
        "FHS|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000",
        "BHS|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000",
        adt("HB1", name, "\r\n"),
        adt("HB2", name, "\r\n"),
        "BTS|2",
        "FTS|1",
        "",
      ].join("\r\n"));
      // 2. A UTF-8 file with a byte order mark, two bare messages with LF line ends and no line
      //    end after the last segment.
      const bom = new Uint8Array([
        0xef,
        0xbb,
        0xbf,
        ...bytesOf([adt("HU1", "@UTF8@", "\n"), adt("HU2", "@UTF8@", "\n")].join("\n")),
      ]);
      // 3. One message, segments ended by CR (the last one too).
      const single = bytesOf(adt("HS1", name, "\r") + "\r");
      const local = `${dir.path}/local`;
      await Deno.mkdir(local);
      const files: [string, Uint8Array][] = [
        ["high.hl7", batch],
        ["bom.hl7", bom],
        ["single.hl7", single],
      ];
      for (const [file, bytes] of files) await Deno.writeFile(`${local}/${file}`, bytes);
      const put = await sftpBatch({
        port: hosted.port,
        user: "clinic",
        key: clinicKey.privatePath,
        commands: files.map(([file]) => `put ${file}`),
        cwd: local,
      });
      assert.equal(put.success, true, put.stderr);

      const ids = ["HB1", "HB2", "HU1", "HU2", "HS1"];
      await waitFor("five messages over MLLP", () => ehr.received.length >= ids.length, WAIT_MS);
      assert.deepEqual(ehr.controlIds(), ids);
      const expected = (id: string) =>
        bytesOf(adt(id, id.startsWith("HU") ? "@UTF8@" : name, "\r") + "\r");
      for (const [i, id] of ids.entries()) {
        assert.deepEqual(ehr.received[i], expected(id), `${id} arrived byte for byte`);
      }
      // Stored so: a resend or a reprocess sends the same bytes.
      const receive = (await logsOf(engine, "clinic-uploads")).filter((l) => l.type === "RECEIVE");
      assert.deepEqual(
        receive.map((l) => [l.controlId, l.status]),
        ids.map((id) => [id, "SUCCEEDED"]),
      );
      for (const l of receive) {
        const record = (await engine.store.getMessage(l.messageId))!;
        assert.deepEqual(await engine.store.getPayload(record), expected(l.controlId!));
      }
      // The byte order mark is no stray segment.
      assert.deepEqual(log.lines.filter((l) => l.includes("sftp.batch-")), []);
    } finally {
      await running?.close();
      await ehr.stop();
    }
  },
);

sftpTest(
  "hosted SFTP: an X12 interchange holding every byte 0x80-0xFF is split and delivered byte for byte",
  async () => {
    await using dir = await tempDir({ prefix: "sftp-bytes-x12-" });
    const [hostKey, billingKey, payerKey] = await Promise.all([
      testKey("bytes_x12_host", { type: "ed25519" }),
      testKey("bytes_x12_billing"),
      testKey("bytes_x12_payer"),
    ]);
    let running: TestEngine | undefined;
    try {
      const config = configOf({
        node: { id: "bytes-x12" },
        kv: { path: `${dir.path}/engine.kv` },
        environments: [{ id: "dev", type: "development" }],
        integrations: [
          { id: "claims", environment: "dev" },
          { id: "payer-uploads", environment: "dev" },
        ],
        sftpServer: {
          port: 0,
          hostname: "127.0.0.1",
          hostKey: { env: "SFTP_HOST_KEY" },
          root: `${dir.path}/sftp`,
          users: [
            { name: "billing", publicKeys: [billingKey.publicKey], integration: "claims" },
            { name: "payer", publicKeys: [payerKey.publicKey], integration: "payer-uploads" },
          ],
        },
        destinations: [{
          id: "payer-outbox",
          environment: "dev",
          sftpOutbox: { user: "payer", fileName: "{name}-{id}.{ext}" },
        }],
        subscriptions: [{ from: { integration: "claims" }, to: ["payer-outbox"] }],
      }, { SFTP_HOST_KEY: hostKey.privateKey });
      running = await startEngine(config);
      const { engine } = running;
      const hosted = running.servers.sftp!;

      // Two 837P sets: the subscriber's name holds every byte 0x80-0xFF in one, windows-1252
      // `’…` in the other; the billing provider's street is UTF-8.
      const body = (name: string): SetBody => ({
        ...X837P_BODY,
        body: X837P_BODY.body.map((s) =>
          s.replace("NM1*IL*1*SMITH*", `NM1*IL*1*${name}*`).replace("N3*234 SEAWAY ST", "N3*@UTF8@")
        ),
      });
      const text = wrap([body("@HIGH@"), body("M@CP1252@LLER")], { control: 7 });
      assert.equal(text.split("@").length, 9, "the four placeholders are in the file");
      const file = bytesOf(text);
      // Each piece: the original ISA, GS and set byte for byte, then a GE and an IEA counting it.
      const segments = text.split("~").slice(0, -1);
      const st = segments.flatMap((seg, i) => seg.startsWith("ST*") ? [i] : []);
      const se = segments.flatMap((seg, i) => seg.startsWith("SE*") ? [i] : []);
      const pieces = st.map((from, k) =>
        bytesOf(
          [
            segments[0],
            segments[1],
            ...segments.slice(from, se[k]! + 1),
            "GE*1*1",
            "IEA*1*000000007",
            "",
          ].join("~"),
        )
      );
      const local = `${dir.path}/local`;
      await Deno.mkdir(local);
      await Deno.writeFile(`${local}/claims.x12`, file);
      const put = await sftpBatch({
        port: hosted.port,
        user: "billing",
        key: billingKey.privatePath,
        commands: ["put claims.x12"],
        cwd: local,
      });
      assert.equal(put.success, true, put.stderr);

      const outbox = `${await Deno.realPath(`${dir.path}/sftp`)}/payer/outbox`;
      await waitFor("two files in the payer's outbox", async () => {
        const logs = await logsOf(engine, "claims");
        return logs.filter((l) => l.type === "SEND" && l.status === "SUCCEEDED").length === 2;
      }, WAIT_MS);
      const receive = (await logsOf(engine, "claims")).filter((l) => l.type === "RECEIVE");
      assert.deepEqual(receive.map((l) => l.controlId), [
        "000000007/1/0001",
        "000000007/1/0002",
      ]);
      const delivered = await names(outbox);
      assert.equal(delivered.length, 2, delivered.join(", "));
      for (const [i, expected] of pieces.entries()) {
        const record = (await engine.store.getMessage(receive[i]!.messageId))!;
        assert.deepEqual(await engine.store.getPayload(record), expected, `set ${i + 1} stored`);
        assert.deepEqual(
          await Deno.readFile(`${outbox}/claims-${record.id}.x12`),
          expected,
          `set ${i + 1} delivered`,
        );
      }
    } finally {
      await running?.close();
    }
  },
);
