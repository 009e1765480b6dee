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
      // Segments end with CR as HL7 requires, whatever the file used, the last one included (as
      // a message received over MLLP); no envelope segments.
      assert.ok(!q.text.includes("\n"), JSON.stringify(q.text));
      assert.equal(q.text, oru(q.record.controlId!) + "\r");
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
    assert.deepEqual(await t.store.getPayload(queued[0]!.record), new Uint8Array([...latin, 0x0d]));
    assert.ok(queued[1]!.text.endsWith(big + "\r"));
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

/** Every byte 0x80-0xFF: UTF-8 continuation bytes, windows-1252 `€…’“”`, Latin-1 letters. */
const HIGH = Uint8Array.from({ length: 128 }, (_, i) => 0x80 + i);
/** Raw bytes for the placeholders of {@link bytesOf}. */
const RAW: Record<string, Uint8Array> = {
  "@HIGH@": HIGH,
  "@CP1252@": new Uint8Array([0x4f, 0x92, 0x42, 0x85]), // O’B… in windows-1252
  "@UTF8@": enc.encode("O’Brien–Straße Ærø Пётр"),
};

/** The bytes of ASCII `text` with each `@NAME@` placeholder replaced by its raw bytes. */
function bytesOf(text: string): Uint8Array {
  const parts = text.split(/(@[A-Z0-9]+@)/);
  const chunks = parts.map((p) => RAW[p] ?? enc.encode(p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function highAdt(id: string, eol: string): string {
  return [
    `MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01^ADT_A01|${id}|P|2.5.1`,
    `PID|1||${id}^^^HOSP^MR||@HIGH@^@CP1252@^@UTF8@||19800101|F`,
    "PV1|1|I",
  ].join(eol);
}

Deno.test("file inbox stores a message holding every byte 0x80-0xFF exactly, its last segment ended by CR", async () => {
  const t = await setup();
  try {
    // An FHS/BHS batch with CRLF line ends, and a single message whose file ends in CR.
    const batch = bytesOf([
      "FHS|^~\\&|LAB|HOSP|||20240315",
      "BHS|^~\\&|LAB|HOSP|||20240315",
      highAdt("H1", "\r\n"),
      highAdt("H2", "\r\n"),
      "BTS|2",
      "FTS|1",
      "",
    ].join("\r\n"));
    const single = bytesOf(highAdt("H3", "\r") + "\r");
    for (const [fileName, bytes] of [["batch.hl7", batch], ["single.hl7", single]] as const) {
      const r = await t.inbox.ingest({ integration: lab, fileName, bytes, peer: "p" });
      assert.equal(r.stored, r.messages, fileName);
    }
    const queued = await t.queued();
    assert.deepEqual(queued.map((q) => q.record.controlId), ["H1", "H2", "H3"]);
    for (const q of queued) {
      const expected = bytesOf(highAdt(q.record.controlId!, "\r") + "\r");
      assert.deepEqual(await t.store.getPayload(q.record), expected, q.record.controlId);
      assert.equal(q.record.messageType, "ADT^A01");
    }
    assert.deepEqual(t.log.lines.filter((l) => l.includes("sftp.batch-warning")), []);
  } finally {
    await t.close();
  }
});

Deno.test("file inbox takes a UTF-8 batch with a byte order mark without a warning, bytes exact", async () => {
  const t = await setup();
  try {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    const text = [
      "FHS|^~\\&|LAB|HOSP|||20240315",
      "BHS|^~\\&|LAB|HOSP|||20240315",
      highAdt("U1", "\n").replace("@HIGH@^@CP1252@^", ""),
      highAdt("U2", "\n").replace("@HIGH@^@CP1252@^", ""),
      "BTS|2",
      "FTS|1",
      "",
    ].join("\n");
    const bytes = new Uint8Array([...bom, ...bytesOf(text)]);
    const r = await t.inbox.ingest({ integration: lab, fileName: "bom.hl7", bytes, peer: "p" });
    assert.equal(r.stored, 2);
    assert.deepEqual(t.log.lines.filter((l) => l.includes("sftp.batch-")), []);
    const queued = await t.queued();
    assert.deepEqual(queued.map((q) => q.record.controlId), ["U1", "U2"]);
    for (const q of queued) {
      const id = q.record.controlId!;
      const expected = bytesOf(highAdt(id, "\r").replace("@HIGH@^@CP1252@^", "") + "\r");
      assert.deepEqual(await t.store.getPayload(q.record), expected, id);
      assert.match(q.text, /\|O’Brien–Straße Ærø Пётр\|/);
    }
  } finally {
    await t.close();
  }
});

Deno.test("file inbox splits an X12 interchange holding bytes 0x80-0xFF into exact pieces", async () => {
  const t = await setup();
  try {
    const isa = "ISA*00*          *00*          *ZZ*SUBMITTERID    *ZZ*RECEIVERID     " +
      "*061015*1023*^*00501*000000007*0*T*:";
    const gs = "GS*HC*SENDERGS*RECEIVERGS*20061015*1023*1*X*005010X222A1";
    const set = (n: string, name: string) => [
      `ST*837*${n}*005010X222A1`,
      "BHT*0019*00*244579*20061015*1023*CH",
      `NM1*IL*1*${name}*JANE****MI*JS00111223333`,
      "N3*@UTF8@",
      `SE*5*${n}`,
    ];
    const a = set("0001", "@HIGH@"), b = set("0002", "M@CP1252@LLER");
    const file = bytesOf([isa, gs, ...a, ...b, "GE*2*1", "IEA*1*000000007", ""].join("~\n"));
    const r = await t.inbox.ingest({ integration: lab, fileName: "c.x12", bytes: file, peer: "p" });
    assert.equal(r.contentType, "application/edi-x12");
    assert.equal(r.stored, 2);
    const queued = await t.queued();
    assert.deepEqual(queued.map((q) => q.record.controlId), [
      "000000007/1/0001",
      "000000007/1/0002",
    ]);
    for (const [i, body] of [a, b].entries()) {
      // The original ISA, GS and set byte for byte, then a GE and an IEA counting the one set.
      const expected = bytesOf([isa, gs, ...body, "GE*1*1", "IEA*1*000000007", ""].join("~\n"));
      assert.deepEqual(await t.store.getPayload(queued[i]!.record), expected, `set ${i + 1}`);
    }
  } finally {
    await t.close();
  }
});
