/**
 * A KV file damaged in a page the engine does not read at start (old history) is found when the
 * engine starts, by SQLite's `PRAGMA quick_check` on a Worker, not hours later at the first read
 * of that page: from then on every commit is refused (senders get negative answers and keep their
 * messages), `store.damaged` is logged once naming the file and SQLite's problems, and `/healthz`
 * fails its kv check. A sound file logs `store.integrity-ok` and goes on accepting; a check that
 * cannot run says so in a warning and changes nothing. Real KV files, damaged on disk.
 */

import assert from "node:assert/strict";
import { type Config } from "../../../actors/config/mod.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { StoreUnavailableError } from "../../../actors/store/health.ts";
import { checkKvIntegrity, watchKvIntegrity } from "../../../actors/store/integrity_check.ts";
import { Store } from "../../../actors/store/mod.ts";
import { damageMiddleLeaf, writeHistory } from "../../helpers/damaged_kv.ts";
import { configFrom, startEngine, type TestEngine } from "../../helpers/engine.ts";
import { adt } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { tempDir } from "../../helpers/temp.ts";

const enc = new TextEncoder();

function config(kvPath: string): Config {
  return configFrom({
    node: { id: "test" },
    kv: { path: kvPath },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
  });
}

/** Sends one ADT over MLLP and gives the ACK's code. */
async function sendAdt(e: TestEngine, controlId: string): Promise<string | undefined> {
  const sender = await RawMllpSender.connect(e.mllpPort);
  try {
    await sender.write(enc.encode(`\x0b${adt(controlId)}\x1c\r`));
    const [ack] = await sender.frameCount(1);
    return summarizeAck(ack!).code;
  } finally {
    await sender.close();
  }
}

async function healthz(e: TestEngine): Promise<{ status: number; kv: Record<string, unknown> }> {
  const r = await fetch(`${e.base}/healthz`);
  const body = await r.json() as { checks: { name: string }[] };
  return { status: r.status, kv: body.checks.find((c) => c.name === "kv")! };
}

function accept(store: Store, id: string) {
  return store.accept({
    queue: "mllp-out:127.0.0.1:9",
    origin: { kind: "integration", id: "feed" },
    payload: enc.encode(adt(id)),
    contentType: "application/hl7-v2",
    controlId: id,
    log: { type: "SEND", integrationId: "feed" },
  });
}

Deno.test("a KV file damaged in a page the engine does not read at start is found by the check at start: commits refused, store.damaged logged once naming the file and the page, /healthz kv failing", async () => {
  await using dir = await tempDir({ prefix: "kv-integrity-damaged-" });
  const file = `${dir.path}/engine.kv`;
  await writeHistory(file, 1500);
  const page = await damageMiddleLeaf(file);
  const e = await startEngine(config(file), { http: true });
  try {
    const result = await e.kvIntegrity;
    assert.equal(result?.status, "damaged", JSON.stringify(result));
    assert.equal(e.engine.store.health.writable, false);
    assert.match(
      e.engine.store.health.state.reason ?? "",
      /^the KV file is damaged \(database disk/,
    );

    // Nothing more is stored: an MLLP sender gets a negative answer, a direct commit is refused.
    assert.match((await sendAdt(e, "D1")) ?? "", /^[AC]E$/);
    await assert.rejects(() => accept(e.engine.store, "D2"), StoreUnavailableError);

    const damaged = e.log.lines.filter((l) => l.includes("store.damaged"));
    assert.equal(damaged.length, 1, e.log.lines.join("\n"));
    assert.match(damaged[0]!, /ERROR/);
    assert.ok(damaged[0]!.includes(file), damaged[0]);
    assert.match(damaged[0]!, new RegExp(`page ${page}\\b`));
    assert.match(damaged[0]!, /the integrity check at start/);
    assert.match(damaged[0]!, /restore the KV file from a backup/);
    assert.ok(!e.log.lines.some((l) => l.includes("store.integrity-ok")));

    const h = await healthz(e);
    assert.equal(h.status, 503);
    assert.equal(h.kv.ok, false);
    assert.match(String(h.kv.reason), /the KV file is damaged/);
  } finally {
    await e.close();
  }
});

Deno.test("a sound KV file passes the check at start: store.integrity-ok with its duration at info, and the engine goes on accepting", async () => {
  await using dir = await tempDir({ prefix: "kv-integrity-sound-" });
  const file = `${dir.path}/engine.kv`;
  await writeHistory(file, 1500);
  const e = await startEngine(config(file), { http: true });
  try {
    const result = await e.kvIntegrity;
    assert.equal(result?.status, "ok", JSON.stringify(result));
    const ok = e.log.lines.filter((l) => l.includes("store.integrity-ok"));
    assert.equal(ok.length, 1, e.log.lines.join("\n"));
    assert.match(ok[0]!, /INFO/);
    assert.ok(ok[0]!.includes(file), ok[0]);
    assert.match(ok[0]!, /\bms=\d+/);
    assert.equal(await sendAdt(e, "S1"), "AA");
    assert.equal(e.engine.store.health.writable, true);
    assert.equal((await healthz(e)).status, 200);
    assert.ok(!e.log.lines.some((l) => l.includes("store.damaged")));
  } finally {
    await e.close();
  }
});

Deno.test("a check that cannot run (the Worker fails, the file cannot be opened) logs a warning saying why, and the store goes on committing", async () => {
  await using dir = await tempDir({ prefix: "kv-integrity-not-run-" });
  const file = `${dir.path}/engine.kv`;
  const store = await Store.open({ path: file, node: "t" });
  const log = memoryLogger();
  store.health.configure({ log, warnIntervalMs: 30_000 });
  try {
    // A Worker that dies as it loads (as one would without node:sqlite).
    const broken = new URL(
      `data:application/javascript,${encodeURIComponent('throw new Error("no sqlite here");')}`,
    );
    const watch = watchKvIntegrity({ file, health: store.health, log, module: broken });
    const result = await watch.done;
    assert.equal(result.status, "not-run");
    assert.match(result.status === "not-run" ? result.reason : "", /Worker failed.*no sqlite here/);
    const warned = log.lines.filter((l) => l.includes("store.integrity-not-checked"));
    assert.equal(warned.length, 1, log.lines.join("\n"));
    assert.match(warned[0]!, /WARN/);
    assert.match(warned[0]!, /no sqlite here/);
    assert.equal(store.health.writable, true);
    assert.equal((await accept(store, "N1")).status, "stored");

    // A file SQLite cannot open is not damage either.
    const missing = await checkKvIntegrity(`${dir.path}/no-such-folder/engine.kv`);
    assert.equal(missing.status, "not-run");
    assert.match(missing.status === "not-run" ? missing.reason : "", /unable to open/);

    // Stopped while it runs (the engine closing): nothing is reported.
    const stopped = watchKvIntegrity({ file, health: store.health, log });
    stopped.stop();
    assert.equal((await stopped.done).status, "not-run");
    assert.equal(log.lines.length, 1, log.lines.join("\n"));
  } finally {
    store.close();
  }
});

Deno.test("a KV file over the size checked at start is not checked: a warning names its size and says to run check --kv in a quiet hour", async () => {
  await using dir = await tempDir({ prefix: "kv-integrity-large-" });
  const file = `${dir.path}/engine.kv`;
  const store = await Store.open({ path: file, node: "t" });
  const log = memoryLogger();
  try {
    assert.equal((await accept(store, "L1")).status, "stored");
    const watch = watchKvIntegrity({ file, health: store.health, log, maxFileBytes: 1 });
    const result = await watch.done;
    assert.equal(result.status, "not-run");
    assert.match(
      result.status === "not-run" ? result.reason : "",
      /GiB, over the 0\.0 GiB checked at start/,
    );
    const warned = log.lines.filter((l) => l.includes("store.integrity-not-checked"));
    assert.equal(warned.length, 1, log.lines.join("\n"));
    assert.match(warned[0]!, /check CONFIG --kv/);
    assert.equal(store.health.writable, true);
  } finally {
    store.close();
  }
});

Deno.test("no check runs for :memory: or a store the engine was given", async () => {
  const memory = await startEngine(config(":memory:"));
  try {
    assert.equal(memory.kvIntegrity, undefined);
  } finally {
    await memory.close();
  }
  await using dir = await tempDir({ prefix: "kv-integrity-given-" });
  const store = await Store.open({ path: `${dir.path}/engine.kv`, node: "test" });
  try {
    const given = await startEngine(config(`${dir.path}/engine.kv`), { store });
    try {
      assert.equal(given.kvIntegrity, undefined);
    } finally {
      await given.close();
    }
  } finally {
    store.close();
  }
});
