import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { EngineMllpInbox } from "../../../actors/engine/mllp_inbox.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { FileInbox } from "../../../actors/sftp/file_inbox.ts";
import { Store } from "../../../actors/store/mod.ts";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { adt } from "../../helpers/net.ts";
import { clockedStore } from "./fixtures/clocked_store.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const QUEUE = "mllp-in:1:127.0.0.1";
/** The destination queue of the inbox below. */
const OUT = "mllp-out:127.0.0.1:9";
const DAY = 86_400_000;

function accept(store: Store, id: string, windowMs: number, size = 200) {
  return store.accept({
    queue: QUEUE,
    origin: { kind: "integration", id: "feed" },
    payload: enc.encode(`MSH|^~\\&|${id}|`.padEnd(size, "x")),
    contentType: "application/hl7-v2",
    controlId: id,
    dedupe: { scope: "feed", key: id, ack: `ACK ${id}`, windowMs },
    log: { type: "RECEIVE", integrationId: "feed" },
  });
}

Deno.test("a repeat within the dedupe window is a duplicate; 3, 10 and 30 s later with a 1 s window it is new", async () => {
  const { clock, store } = await clockedStore();
  try {
    const first = await accept(store, "C1", 1000);
    assert.equal(first.status, "stored");
    clock.advance(999);
    const repeat = await accept(store, "C1", 1000);
    assert.equal(repeat.status, "duplicate");
    assert.equal(repeat.status === "duplicate" && repeat.ack, "ACK C1");
    const ids = new Set([first.messageId]);
    for (const later of [3_000, 10_000, 30_000]) {
      clock.advance(later);
      const again = await accept(store, "C1", 1000);
      assert.equal(again.status, "stored", `${later} ms later`);
      ids.add(again.messageId);
      // Within the window of that new copy, a repeat is its duplicate again.
      const echo = await accept(store, "C1", 1000);
      assert.equal(echo.status, "duplicate");
      assert.equal(echo.messageId, again.messageId);
    }
    assert.equal(ids.size, 4);
    assert.equal(await store.depth(QUEUE), 4);
  } finally {
    store.close();
  }
});

Deno.test("with the default 24 h window a control id reused after a day is accepted, also for a large message", async () => {
  const { clock, store } = await clockedStore();
  try {
    for (const [id, size] of [["SMALL", 200], ["LARGE", 200_000]] as const) {
      assert.equal((await accept(store, id, DAY, size)).status, "stored");
      clock.advance(DAY - 1);
      assert.equal((await accept(store, id, DAY, size)).status, "duplicate", `${id} within a day`);
      clock.advance(2);
      assert.equal((await accept(store, id, DAY, size)).status, "stored", `${id} after a day`);
    }
    assert.equal(await store.depth(QUEUE), 4);
  } finally {
    store.close();
  }
});

function inbox(store: Store): EngineMllpInbox {
  const parsed = parseConfig({
    kv: { path: ":memory:" },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 1, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "out", environment: "dev", mllp: { host: "127.0.0.1", port: 9 } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["out"] }],
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  // HL7 passed through: routed in the commit that stores it, to the destination's queue.
  return new EngineMllpInbox({
    config: parsed.config,
    store,
    log: memoryLogger(),
    notify: () => {},
  });
}

function msa(reply: Uint8Array | undefined) {
  assert.ok(reply, "an answer");
  const m = parseHl7(dec.decode(reply));
  return { code: m.get("MSA-1"), id: m.get("MSA-2"), err: m.get("ERR-8") ?? m.get("MSA-3") };
}

Deno.test("a 100 KB MSH-10 gets AA, and its repeat is answered as a duplicate and stored once", async () => {
  const { store } = await clockedStore();
  try {
    const mllp = inbox(store);
    const controlId = "K".repeat(100_000);
    const frame = { payload: enc.encode(adt(controlId)), localPort: 1, peerIp: "127.0.0.1" };
    const first = msa((await mllp.receive({ ...frame, connection: "c1" })).reply);
    assert.equal(first.code, "AA", first.err);
    assert.equal(first.id, controlId);
    const again = msa((await mllp.receive({ ...frame, connection: "c2" })).reply);
    assert.equal(again.code, "AA", again.err);
    assert.equal(again.id, controlId);
    assert.equal(await store.depth(OUT), 1);
    // The full MSH-10 stays in the message; records keep a bounded copy for people to read.
    const [head] = await store.peek(OUT);
    const record = await store.getMessage(head!.entry.messageId);
    assert.ok(record!.controlId!.length < 2_000);
    assert.ok(record!.controlId!.startsWith("KKKK"));
  } finally {
    store.close();
  }
});

Deno.test("a file with a very long name is stored, and stored once when taken again", async () => {
  const { store } = await clockedStore();
  try {
    const files = new FileInbox({
      store,
      log: memoryLogger(),
      dedupeWindowSeconds: 3600,
      fallbackCharset: "latin1",
      maxFileBytes: 1 << 20,
      notify: () => {},
    });
    const file = {
      integration: { id: "lab", environment: "dev" },
      fileName: `${"n".repeat(10_000)}.pdf`,
      bytes: enc.encode("%PDF-1.4 not really"),
      peer: "lab@sftp.example:22",
    };
    const first = await files.ingest(file);
    assert.deepEqual([first.stored, first.duplicates], [1, 0]);
    const again = await files.ingest(file);
    assert.deepEqual([again.stored, again.duplicates], [0, 1]);
    const [head] = await store.peek(first.queue);
    assert.equal((await store.getMessage(head!.entry.messageId))!.fileName, file.fileName);
  } finally {
    store.close();
  }
});
