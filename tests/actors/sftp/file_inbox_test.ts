/**
 * The file inbox on a real KV store: HL7 batches split into messages in file order, other files
 * kept whole with their type and hash, and a file taken in twice stored once.
 */

import assert from "node:assert/strict";
import { FileInbox, fileQueueId, sha256Hex } from "../../../actors/sftp/file_inbox.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function setup(options: { maxFileBytes?: number } = {}) {
  const dir = await Deno.makeTempDir({ prefix: "file-inbox-" });
  const store = await Store.open({ path: `${dir}/engine.kv`, node: "t" });
  const log = memoryLogger();
  const notified: string[] = [];
  const inbox = new FileInbox({
    store,
    log,
    dedupeWindowSeconds: 3600,
    fallbackCharset: "windows-1252",
    maxFileBytes: options.maxFileBytes ?? 30 * 1024 * 1024,
    notify: (q) => notified.push(q),
  });
  const queued = async (integration = "lab") => {
    const heads = await store.peek(fileQueueId(integration), 1000);
    return await Promise.all(heads.map(async (h) => {
      const record = (await store.getMessage(h.entry.messageId))!;
      return { record, text: dec.decode(await store.getPayload(record)) };
    }));
  };
  return {
    store,
    log,
    inbox,
    notified,
    queued,
    async close() {
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const lab = { id: "lab", environment: "dev" };

function oru(id: string, eol = "\r"): string {
  return [
    `MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||ORU^R01^ORU_R01|${id}|P|2.5.1`,
    `PID|1||${id}^^^HOSP^MR||DOE^JANE`,
    `OBX|1|NM|GLU^Glucose||${id.length}|mg/dL`,
  ].join(eol);
}

Deno.test("file inbox splits an FHS/BHS batch into messages queued in file order", async () => {
  const t = await setup();
  try {
    const ids = Array.from({ length: 40 }, (_, i) => `B${String(i).padStart(3, "0")}`);
    const file = [
      "FHS|^~\\&|LAB|HOSP|||20240315",
      "BHS|^~\\&|LAB|HOSP|||20240315",
      ...ids.map((id) => oru(id, "\r\n")),
      `BTS|${ids.length}`,
      "FTS|1",
      "",
    ].join("\r\n");
    const bytes = enc.encode(file);
    const result = await t.inbox.ingest({
      integration: lab,
      fileName: "batch.hl7",
      bytes,
      peer: "p",
    });
    assert.equal(result.messages, 40);
    assert.equal(result.stored, 40);
    assert.equal(result.duplicates, 0);
    assert.equal(result.queue, "sftp:lab");
    assert.equal(result.sha256, await sha256Hex(bytes));
    const queued = await t.queued();
    assert.deepEqual(queued.map((q) => q.record.controlId), ids);
    for (const q of queued) {
      assert.equal(q.record.contentType, "application/hl7-v2");
      assert.equal(q.record.messageType, "ORU^R01");
      assert.equal(q.record.fileName, "batch.hl7");
      assert.equal(q.record.origin.id, "lab");
      // Segments end with CR as HL7 requires, whatever the file used; no envelope segments.
      assert.ok(!q.text.includes("\n"), JSON.stringify(q.text));
      assert.equal(q.text, oru(q.record.controlId!));
    }
    assert.deepEqual(t.notified, ["sftp:lab"]);
    // A RECEIVE log per message.
    const logs = await t.store.logsOfMessage(queued[0]!.record.id);
    assert.equal(logs[0]?.type, "RECEIVE");
    assert.equal(logs[0]?.integrationId, "lab");
  } finally {
    await t.close();
  }
});

Deno.test("file inbox takes the same file twice but stores its messages once", async () => {
  const t = await setup();
  try {
    const bytes = enc.encode([oru("D1"), oru("D2"), oru("D3")].join("\r"));
    const first = await t.inbox.ingest({ integration: lab, fileName: "d.hl7", bytes, peer: "p" });
    assert.deepEqual([first.stored, first.duplicates], [3, 0]);
    // A re-download after a crash between storing and archiving (even under another name).
    const again = await t.inbox.ingest({ integration: lab, fileName: "d.hl7", bytes, peer: "p" });
    assert.deepEqual([again.stored, again.duplicates], [0, 3]);
    assert.equal((await t.queued()).length, 3);
    assert.deepEqual(t.notified, ["sftp:lab"], "a file of duplicates woke the actor");
    // A different file is new, even if it shares messages by control id.
    const other = enc.encode([oru("D1"), oru("D4")].join("\r"));
    const third = await t.inbox.ingest({
      integration: lab,
      fileName: "e.hl7",
      bytes: other,
      peer: "p",
    });
    assert.deepEqual([third.stored, third.duplicates], [2, 0]);
    // Another integration's copy is its own.
    const mine = await t.inbox.ingest({
      integration: { id: "clinic", environment: "dev" },
      fileName: "d.hl7",
      bytes,
      peer: "p",
    });
    assert.equal(mine.stored, 3);
  } finally {
    await t.close();
  }
});

Deno.test("file inbox keeps other files whole with their name, type and SHA-256", async () => {
  const t = await setup();
  try {
    const pdf = enc.encode("%PDF-1.7\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n%%EOF\n");
    const x12 = enc.encode(
      "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240315*1230*^*00501*000000001*0*P*:~GS*HC*S*R*20240315*1230*1*X*005010X222A1~",
    );
    const ccda = enc.encode('<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>');
    const blob = new Uint8Array([0, 1, 2, 3, 255]);
    const cases: [string, Uint8Array, string][] = [
      ["report.pdf", pdf, "application/pdf"],
      ["claims.txt", x12, "application/edi-x12"],
      ["summary.ccd", ccda, "application/xml"],
      ["mystery.dat", blob, "application/octet-stream"],
      ["notes.csv", enc.encode("a,b\n1,2\n"), "text/csv"],
    ];
    for (const [fileName, bytes, type] of cases) {
      const r = await t.inbox.ingest({ integration: lab, fileName, bytes, peer: "p" });
      assert.equal(r.messages, 1, fileName);
      assert.equal(r.contentType, type, fileName);
    }
    const queued = await t.queued();
    assert.deepEqual(queued.map((q) => q.record.fileName), cases.map((c) => c[0]));
    for (const [i, q] of queued.entries()) {
      const bytes = cases[i]![1];
      assert.equal(q.record.contentType, cases[i]![2]);
      assert.equal(q.record.sha256, await sha256Hex(bytes));
      assert.deepEqual(await t.store.getPayload(q.record), bytes);
      assert.equal(q.record.controlId, undefined);
    }
  } finally {
    await t.close();
  }
});

Deno.test("file inbox keeps non-UTF-8 HL7 bytes exact and cuts large batches in order", async () => {
  const t = await setup();
  try {
    // A windows-1252 name (é = 0xE9) must reach the store byte for byte.
    const latin = new Uint8Array([...enc.encode(oru("L1").replace("JANE", "REN")), 0xe9]);
    const big = "X".repeat(60 * 1024); // larger than one inline KV value
    const file = new Uint8Array([
      ...latin,
      ...enc.encode("\r" + oru("L2") + `\rNTE|1||${big}\r` + oru("L3")),
    ]);
    const r = await t.inbox.ingest({
      integration: lab,
      fileName: "l.hl7",
      bytes: file,
      peer: "p",
    });
    assert.equal(r.stored, 3);
    const queued = await t.queued();
    assert.deepEqual(queued.map((q) => q.record.controlId), ["L1", "L2", "L3"]);
    assert.deepEqual(await t.store.getPayload(queued[0]!.record), latin);
    assert.ok(queued[1]!.text.endsWith(big));
  } finally {
    await t.close();
  }
});

Deno.test("file inbox refuses a file over the limit and fails when the store does", async () => {
  const t = await setup({ maxFileBytes: 100 });
  try {
    await assert.rejects(
      t.inbox.ingest({ integration: lab, fileName: "x", bytes: new Uint8Array(101), peer: "p" }),
      /x has 101 bytes, more than the limit of 100/,
    );
    t.store.close();
    await assert.rejects(
      t.inbox.ingest({
        integration: lab,
        fileName: "y.hl7",
        bytes: enc.encode(oru("S1")),
        peer: "p",
      }),
    );
    assert.deepEqual(t.notified, []);
  } finally {
    await t.close();
  }
});
