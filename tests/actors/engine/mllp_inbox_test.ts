import assert from "node:assert/strict";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../../codecs/mllp/mod.ts";
import { parseConfig } from "../../../actors/config/mod.ts";
import { EngineMllpInbox } from "../../../actors/engine/mllp_inbox.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { type QueueItem, Store } from "../../../actors/store/mod.ts";
import { bindMllp, serveMllp } from "../../../transports/mllp/server.ts";
import { adt } from "../../helpers/net.ts";
import { tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The MLLP destination the feed's subscription sends to, and its actor's queue. */
const OUT = "mllp-out:127.0.0.1:9";

/**
 * An inbox for integration `feed` on `port`. By default its subscription passes HL7 through to
 * an MLLP destination, so messages are routed in the commit that stores them; with `json`, the
 * destination is HTTPS and wants the data-model JSON, which is the inbound actor's work.
 * Disposing of it closes the store and removes its temp folder.
 */
async function setup(
  overrides: Record<string, unknown> = {},
  port = 1,
  options: {
    json?: boolean;
    log?: ReturnType<typeof memoryLogger>;
    monotonic?: () => number;
  } = {},
) {
  const dir = await tempDir({ prefix: "mllp-inbox-" });
  const result = parseConfig({
    kv: { path: `${dir.path}/engine.kv` },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port, allowedIps: ["127.0.0.1"], ...overrides },
    }],
    destinations: [
      options.json
        ? {
          id: "out",
          environment: "dev",
          https: { url: "http://127.0.0.1:9/in", verificationToken: { env: "APP_TOKEN" } },
        }
        : { id: "out", environment: "dev", mllp: { host: "127.0.0.1", port: 9 } },
    ],
    subscriptions: [{ from: { integration: "feed" }, to: ["out"] }],
    limits: { maxHl7Bytes: 4096 },
  }, { env: (name) => name === "APP_TOKEN" ? "t" : undefined, readFile: () => new Error("none") });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "t" });
  const log = options.log ?? memoryLogger();
  const notified: string[] = [];
  const handed: { queue: string; items: readonly QueueItem[] }[] = [];
  const inbox = new EngineMllpInbox({
    config: result.config,
    store,
    log,
    notify: (id) => notified.push(id),
    handOver: (queue, items) => handed.push({ queue, items }),
    ...(options.monotonic ? { monotonic: options.monotonic } : {}),
  });
  return {
    store,
    log,
    inbox,
    notified,
    handed,
    async [Symbol.asyncDispose]() {
      store.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

const frame = (text: string, peerIp = "127.0.0.1") => ({
  payload: enc.encode(text),
  localPort: 1,
  peerIp,
  connection: "c1",
});

function msa(reply: Uint8Array | undefined) {
  if (!reply) throw new Error("no reply");
  const m = parseHl7(dec.decode(reply));
  return { code: m.get("MSA-1"), id: m.get("MSA-2"), err: m.get("ERR-8") ?? m.get("MSA-3") };
}

/**
 * Reads the ACKs a listener writes on `conn`, one per call: the next one's MSA, or undefined once
 * the connection closes (or `timeoutMs` passes, which closes it).
 */
function ackReader(conn: Deno.Conn) {
  const decoder = new MllpDecoder();
  const buf = new Uint8Array(65536);
  const ready: Uint8Array[] = [];
  return async (timeoutMs = 30_000) => {
    const timer = setTimeout(() => conn.close(), timeoutMs);
    try {
      while (ready.length === 0) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) return undefined;
        for (const e of decoder.push(buf.subarray(0, n))) {
          if (e.type === "frame") ready.push(e.payload);
        }
      }
      return msa(ready.shift());
    } finally {
      clearTimeout(timer);
    }
  };
}

Deno.test("inbox answers AA only after the message is stored and queued for its destination", async () => {
  await using rig = await setup();
  const { store, inbox, notified, handed } = rig;
  try {
    const r = await inbox.receive(frame(adt("A1")));
    assert.deepEqual(msa(r.reply).code, "AA");
    assert.equal(msa(r.reply).id, "A1");
    // Routed in the commit that stored it: the destination's queue, not the inbound one.
    const [head] = await store.peek(OUT);
    assert.ok(head, "queued before the ACK was returned");
    assert.equal(await store.depth("mllp-in:1:127.0.0.1"), 0);
    const record = await store.getMessage(head.entry.messageId);
    assert.equal(record?.controlId, "A1");
    const receive = await store.getLog(record!.receiveLogId!);
    assert.equal(receive?.status, "SUCCEEDED");
    assert.equal(receive?.dataModel, "PatientAdmin");
    assert.equal((await store.getLog(head.entry.logId))?.status, "PENDING");
    // The destination actor gets the committed entry in memory, payload included.
    assert.deepEqual(notified, []);
    assert.equal(handed.length, 1);
    assert.equal(handed[0]!.queue, OUT);
    const [item] = handed[0]!.items;
    assert.deepEqual(item!.head, head);
    assert.equal(dec.decode(item!.payload), adt("A1"));
    assert.equal(item!.log?.id, head.entry.logId);
  } finally {
    store.close();
  }
});

Deno.test("inbox queues a message for the inbound actor when a subscription needs the application step", async () => {
  await using rig = await setup({}, 1, { json: true });
  const { store, inbox, notified, handed } = rig;
  try {
    const r = await inbox.receive(frame(adt("J1")));
    assert.equal(msa(r.reply).code, "AA");
    const [head] = await store.peek("mllp-in:1:127.0.0.1");
    assert.ok(head, "queued before the ACK was returned");
    assert.equal((await store.getMessage(head.entry.messageId))?.controlId, "J1");
    assert.deepEqual(notified, ["mllp-in:1:127.0.0.1"]);
    assert.deepEqual(handed, []);
  } finally {
    store.close();
  }
});

Deno.test("inbox keeps using the inbound queue while it holds messages, so none is overtaken", async () => {
  await using rig = await setup();
  const { store, inbox, notified } = rig;
  try {
    // Left from before a restart: a message waiting for the inbound actor.
    await store.accept({
      queue: "mllp-in:1:127.0.0.1",
      origin: { kind: "integration", id: "feed", peer: "127.0.0.1" },
      payload: enc.encode(adt("OLD1")),
      contentType: "application/hl7-v2",
      controlId: "OLD1",
      log: { type: "RECEIVE", integrationId: "feed", environment: "dev" },
    });
    assert.equal(msa((await inbox.receive(frame(adt("NEW1")))).reply).code, "AA");
    assert.equal(await store.depth("mllp-in:1:127.0.0.1"), 2);
    assert.equal(await store.depth(OUT), 0);
    assert.deepEqual(notified, ["mllp-in:1:127.0.0.1"]);
    // Once it is empty, messages are routed at intake again.
    for (const head of await store.peek("mllp-in:1:127.0.0.1", 10)) {
      await store.route(head, [], { status: "FILTERED" });
    }
    assert.equal(msa((await inbox.receive(frame(adt("NEW2")))).reply).code, "AA");
    assert.equal(await store.depth(OUT), 1);
  } finally {
    store.close();
  }
});

Deno.test("inbox answers a repeated MSH-10 with the stored ACK and does not enqueue it twice", async () => {
  await using rig = await setup();
  const { store, inbox, handed } = rig;
  try {
    const first = await inbox.receive(frame(adt("DUP1")));
    const again = await inbox.receive(frame(adt("DUP1")));
    assert.deepEqual(again.reply, first.reply);
    assert.equal(await store.depth(OUT), 1);
    assert.equal(handed.length, 1);
  } finally {
    store.close();
  }
});

Deno.test("inbox rejects an unknown sender with AR naming the address and closes", async () => {
  await using rig = await setup();
  const { store, inbox, log } = rig;
  try {
    const r = await inbox.receive(frame(adt("X1"), "127.0.0.9"));
    assert.equal(msa(r.reply).code, "AR");
    assert.match(
      msa(r.reply).err ?? "",
      /no integration accepts messages from 127\.0\.0\.9 on port 1/,
    );
    assert.equal(r.close, true);
    assert.ok(log.lines.some((l) => l.includes("mllp.unknown-sender")));
    assert.equal(await store.depth("mllp-in:1:127.0.0.9"), 0);
  } finally {
    store.close();
  }
});

Deno.test("inbox rejects a message whose MSH cannot be read with AR and the reason", async () => {
  await using rig = await setup();
  const { store, inbox } = rig;
  try {
    const r = await inbox.receive(frame("PID|1||123\rPV1|1"));
    assert.equal(msa(r.reply).code, "AR");
    assert.match(msa(r.reply).err ?? "", /cannot read the message/);
  } finally {
    store.close();
  }
});

Deno.test("inbox answers CA in enhanced mode", async () => {
  await using rig = await setup({ ackMode: "enhanced" });
  const { store, inbox } = rig;
  try {
    assert.equal(msa((await inbox.receive(frame(adt("E1")))).reply).code, "CA");
  } finally {
    store.close();
  }
});

Deno.test("inbox answers AE, never AA, when the store cannot commit, and stays up", async () => {
  await using rig = await setup();
  const { store, inbox, log } = rig;
  store.close(); // every KV operation now fails
  const r = await inbox.receive(frame(adt("F1")));
  assert.equal(msa(r.reply).code, "AE");
  assert.match(msa(r.reply).err ?? "", /could not store the message/);
  assert.ok(log.lines.some((l) => l.includes("mllp.store-failed")));
});

Deno.test("listener answers pipelined frames in order, skips stray bytes, and closes after an over-size frame", async () => {
  const log = memoryLogger();
  // Bound first, on port 0: the integration is configured with the port the system chose.
  const bound = await bindMllp({ port: 0, hostname: "127.0.0.1", log });
  await using rig = await setup({}, bound.port, { log });
  const { store, inbox } = rig;
  const server = bound.serve(inbox);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const garbage = enc.encode("garbage\r\n");
    const parts = [
      garbage,
      encodeMllp(adt("P1")),
      garbage,
      encodeMllp(adt("P2")),
      encodeMllp(adt("P3")),
    ];
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    // Byte by byte for the first frame, then the rest in one write.
    for (let i = 0; i < 40; i++) await conn.write(all.subarray(i, i + 1));
    await conn.write(all.subarray(40));
    const nextAck = ackReader(conn);
    const acks: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ack = await nextAck();
      if (ack) acks.push(`${ack.code}:${ack.id}`);
    }
    assert.deepEqual(acks, ["AA:P1", "AA:P2", "AA:P3"]);
    await conn.write(encodeMllp("MSH|^~\\&|" + "X".repeat(8000)));
    const reply = await nextAck();
    assert.ok(reply, "an answer before the close");
    assert.equal(reply.code, "AR");
    assert.match(reply.err ?? "", /larger than the limit of 4096 bytes/);
    assert.equal(await nextAck(), undefined, "the connection closed after the answer");
    assert.equal(
      await store.depth("mllp-in:1:127.0.0.1"),
      0,
      "listener port 0 ≠ integration port 1",
    );
  } finally {
    conn.close();
    await server.close();
    store.close();
  }
  assert.ok(log.lines.some((l) => l.includes("mllp.stray-bytes")), log.lines.join("\n"));
});

Deno.test("listener waits for FS CR by default, and with requireFinalCr false answers a frame ended by FS alone", async () => {
  const log = memoryLogger();
  // Bound first, on port 0: the integration is configured with the port the system chose.
  const bound = await bindMllp({ port: 0, hostname: "127.0.0.1", log, requireFinalCr: false });
  const port = bound.port;
  await using rig = await setup({}, port, { log });
  const { store, inbox } = rig;
  const lenient = bound.serve(inbox);
  // Not an integration's port: its answers are AR, but they show where a frame ended.
  const strict = await serveMllp({ port: 0, hostname: "127.0.0.1", inbox, log });
  const noCr = (id: string) => {
    const framed = encodeMllp(adt(id));
    return framed.subarray(0, framed.length - 1); // VT payload FS, without the CR
  };
  try {
    const a = await Deno.connect({ hostname: "127.0.0.1", port });
    await a.write(noCr("NOCR1"));
    assert.deepEqual(await ackReader(a)(30_000), { code: "AA", id: "NOCR1", err: undefined });
    a.close();
    assert.equal(await store.depth(OUT), 1);

    // Strict: after FS the frame is still open, so nothing is answered until the CR arrives.
    const b = await Deno.connect({ hostname: "127.0.0.1", port: strict.port });
    await b.write(noCr("NOCR2"));
    await new Promise((r) => setTimeout(r, 300));
    await b.write(Uint8Array.of(0x0d));
    assert.equal((await ackReader(b)(30_000))?.id, "NOCR2");
    b.close();
    const c = await Deno.connect({ hostname: "127.0.0.1", port: strict.port });
    await c.write(noCr("NOCR3"));
    assert.equal(await ackReader(c)(300), undefined, "answered a frame that had not ended");
  } finally {
    await strict.close();
    await lenient.close();
    store.close();
  }
});

Deno.test("inbox: a sender reusing one MSH-10 for every message has each stored; mllp.control-id-reused is logged 20 times in 5 s, then once with the count held back", async () => {
  let now = 0;
  await using t = await setup({}, 1, { monotonic: () => now });
  const reused = () => t.log.lines.filter((l) => l.includes(" mllp.control-id-reused "));
  for (let i = 0; i <= 25; i++) {
    assert.equal(msa((await t.inbox.receive(frame(adt("FIXED", ` P${i}`)))).reply).code, "AA");
  }
  assert.equal(reused().length, 20);
  assert.ok(reused().every((l) => !l.includes("count=")), reused()[0]);
  now = 5_000;
  assert.equal(msa((await t.inbox.receive(frame(adt("FIXED", " P26")))).reply).code, "AA");
  assert.equal(reused().length, 21);
  assert.match(reused()[20]!, /count=6\b/, "this one and the 5 held back");
  assert.equal(await t.store.depth(OUT), 27);
});

/** `text` as bytes, one byte a character (each below U+0100). */
function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** The reply's MSA segment, read byte for byte (each byte one character). */
function msaBytes(reply: Uint8Array | undefined): string {
  if (!reply) throw new Error("no reply");
  const text = String.fromCharCode(...reply);
  return text.slice(text.indexOf("MSA|")).split("\r")[0]!;
}

Deno.test("inbox answers a message in ISO 8859-1 or windows-1252 in its own charset: MSA-2 is the sender's MSH-10 byte for byte", async () => {
  await using rig = await setup();
  const { inbox } = rig;
  // MSH-18 8859/1, MSH-10 "é-2" (0xE9 in Latin-1, two bytes in UTF-8).
  const latin1 =
    `MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01^ADT_A01|\xe9-2|P|2.5.1|||AL|NE||8859/1\r` +
    "PID|1||1^^^HOSP^MR||M\xfcLLER^J\xf6RG||19800101|F";
  const labelled = await inbox.receive({ ...frame(""), payload: bytesOf(latin1) });
  assert.equal(msaBytes(labelled.reply), "MSA|AA|\xe9-2");
  // Unlabelled, not UTF-8: read in the fallback charset (windows-1252), answered in it: 0x92 is ’.
  const cp1252 = adt("O\x923");
  const unlabelled = await inbox.receive({ ...frame(""), payload: bytesOf(cp1252) });
  assert.equal(msaBytes(unlabelled.reply), "MSA|AA|O\x923");
  // A repeat gets the same bytes.
  const again = await inbox.receive({ ...frame(""), payload: bytesOf(cp1252) });
  assert.deepEqual(again.reply, unlabelled.reply);
  // UTF-8 stays UTF-8.
  const utf8 = await inbox.receive(frame(adt("\u00e9-3")));
  assert.equal(msa(utf8.reply).id, "\u00e9-3");
});
