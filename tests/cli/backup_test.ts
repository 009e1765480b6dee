/**
 * `main.ts backup CONFIG OUT` copies a running engine's KV file consistently (SQLite's
 * `VACUUM INTO`), and the documented restore works: stop the engine, put the copy in place of the
 * KV file (stale `-wal`/`-shm` removed), start it: what was queued for a destination that was down
 * is delivered in order, and the logs are there. And its refusals: `:memory:`, a KV Connect URL,
 * an existing OUT without `--force`, OUT's folder missing, a file locked past `--timeout`.
 * @module
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client, Hl7Server } from "@medplum/hl7";
import type { LogRecord } from "../../actors/store/types.ts";
import { damageMiddleLeaf, writeHistory } from "../helpers/damaged_kv.ts";
import { spawnEngine } from "../helpers/engine_process.ts";
import { adt, freePort, startHl7Server, waitFor } from "../helpers/net.ts";
import { tempDir } from "../helpers/temp.ts";

const root = new URL("../../", import.meta.url).pathname;
const DEADLINE_MS = 90_000;
const TOKEN = "test-token-0123456789";

/** Runs `main.ts args…` to its end; one still going after {@link DEADLINE_MS} is killed and fails. */
async function run(args: string[], env: Record<string, string> = {}) {
  const deadline = AbortSignal.timeout(DEADLINE_MS);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: root,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: deadline,
  }).output();
  const dec = new TextDecoder();
  assert.ok(!deadline.aborted, `main.ts ${args.join(" ")} still ran after ${DEADLINE_MS} ms`);
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function writeConfig(dir: string, config: unknown): Promise<string> {
  const file = `${dir}/engine-${crypto.randomUUID().slice(0, 8)}.json`;
  await Deno.writeTextFile(file, JSON.stringify(config, null, 2));
  return file;
}

/** A small KV file with a few records, as the engine's store would leave one. */
async function smallKv(path: string): Promise<void> {
  const kv = await Deno.openKv(path);
  try {
    for (let i = 0; i < 5; i++) await kv.set(["msg", `m${i}`], { id: `m${i}` });
    await kv.set(["q", "mllp-out:x", "0001"], { messageId: "m0" });
  } finally {
    kv.close();
  }
}

/** Imported by name: the project's `@types/node` predates `node:sqlite`. */
const SQLITE = "node:sqlite";

interface Sqlite {
  DatabaseSync: new (file: string, options?: { readOnly?: boolean }) => {
    exec(sql: string): void;
    prepare(sql: string): { all(): Record<string, unknown>[] };
    close(): void;
  };
}

/** SQLite's `PRAGMA quick_check` on `file`, read-only: its rows. */
async function quickCheck(file: string): Promise<string[]> {
  const { DatabaseSync } = await import(SQLITE) as Sqlite;
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare("PRAGMA quick_check").all().map((r) => String(Object.values(r)[0]));
  } finally {
    db.close();
  }
}

Deno.test("backup refuses :memory: and a KV Connect URL, naming what to use instead; nothing is written", async () => {
  await using dir = await tempDir({ prefix: "backup-refuse-kv-" });
  const out = `${dir.path}/copy.kv`;
  const memory = await run([
    "backup",
    await writeConfig(dir.path, { node: { id: "t" }, kv: { path: ":memory:" } }),
    out,
  ]);
  assert.equal(memory.code, 1, memory.stdout + memory.stderr);
  assert.match(memory.stderr, /^backup: kv\.path is :memory:.*no file to back up\n$/);

  const url = await run([
    "backup",
    await writeConfig(dir.path, { node: { id: "t" }, kv: { path: "https://kv.example.test/db" } }),
    out,
  ]);
  assert.equal(url.code, 1, url.stdout + url.stderr);
  assert.match(url.stderr, /kv\.path is a KV Connect URL \(https:\/\/kv\.example\.test\/db\)/);
  assert.match(url.stderr, /KV Connect server's side.*denokv's continuous backup/);
  assert.deepEqual([...Deno.readDirSync(dir.path)].filter((e) => e.name.startsWith("copy")), []);
});

Deno.test("backup refuses an existing OUT without --force and replaces it with --force; refuses a missing folder and a file locked past --timeout", async () => {
  await using dir = await tempDir({ prefix: "backup-refuse-out-" });
  const kvPath = `${dir.path}/engine.kv`;
  await smallKv(kvPath);
  const config = await writeConfig(dir.path, { node: { id: "t" }, kv: { path: kvPath } });

  // OUT exists: refused, left as it was.
  const out = `${dir.path}/copy.kv`;
  await Deno.writeTextFile(out, "an older backup");
  const refused = await run(["backup", config, out]);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.equal(
    refused.stderr,
    `backup: ${out} exists: pass --force to replace it, or name another file (nothing was written)\n`,
  );
  assert.equal(await Deno.readTextFile(out), "an older backup");

  // --force: replaced by a copy that opens, with its counts printed; a stale -wal beside it goes.
  await Deno.writeTextFile(`${out}-wal`, "stale");
  const forced = await run(["backup", config, out, "--force"]);
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  assert.match(forced.stdout, /in the copy: 5 messages, 1 queued entries/);
  assert.match(forced.stdout, /queued for mllp-out:x: 1/);
  assert.match(forced.stdout, /could not checkpoint the engine's WAL/);
  assert.ok(!(await exists(`${out}-wal`)));
  assert.ok(!(await exists(`${out}.part`)));
  // It holds patient data: readable by its owner only, whatever the umask.
  if (Deno.build.os !== "windows") assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
  assert.deepEqual(await quickCheck(out), ["ok"]);

  // OUT's folder missing.
  const missing = await run(["backup", config, `${dir.path}/no-such-folder/copy.kv`]);
  assert.equal(missing.code, 1, missing.stdout + missing.stderr);
  assert.equal(
    missing.stderr,
    `backup: OUT's folder ${dir.path}/no-such-folder does not exist: create it first (nothing was written)\n`,
  );

  // Locked: a connection holds the file exclusively (WAL with locking_mode EXCLUSIVE).
  const { DatabaseSync } = await import(SQLITE) as Sqlite;
  const holder = new DatabaseSync(kvPath);
  try {
    holder.exec("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;");
    const locked = await run(["backup", config, `${dir.path}/locked.kv`, "--timeout", "1"]);
    assert.equal(locked.code, 1, locked.stdout + locked.stderr);
    assert.match(
      locked.stderr,
      /^backup: the KV file stayed locked by another connection \(database is locked; gave up after [\d.]+ s\): try again, or wait longer with --timeout SECONDS/,
    );
    assert.ok(!(await exists(`${dir.path}/locked.kv`)));
    assert.ok(!(await exists(`${dir.path}/locked.kv.part`)));
  } finally {
    holder.close();
  }
});

Deno.test("backup of a KV file damaged in a page of old history exits 1 saying so, and writes no copy; no KV file yet is said as such", async () => {
  await using dir = await tempDir({ prefix: "backup-damaged-" });
  const kvPath = `${dir.path}/engine.kv`;
  await writeHistory(kvPath, 1500);
  await damageMiddleLeaf(kvPath);
  const config = await writeConfig(dir.path, { node: { id: "t" }, kv: { path: kvPath } });
  const r = await run(["backup", config, `${dir.path}/copy.kv`]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^backup: the KV file is damaged \(.*malformed.*\): nothing was copied/);
  assert.match(r.stderr, /main\.ts check CONFIG --kv/);
  assert.deepEqual([...Deno.readDirSync(dir.path)].filter((e) => e.name.startsWith("copy")), []);

  const none = await run([
    "backup",
    await writeConfig(dir.path, { node: { id: "t" }, kv: { path: `${dir.path}/not-yet.kv` } }),
    `${dir.path}/copy.kv`,
  ]);
  assert.equal(none.code, 1, none.stdout + none.stderr);
  assert.match(
    none.stderr,
    /^backup: no KV file at .*\/not-yet\.kv \(kv\.path\): nothing to back up/,
  );
});

/**
 * Whether a small tmpfs can be mounted here (Linux, root with the capability): the one way to give
 * the copy a disk that fills up. Tried once, at load.
 */
async function tmpfsAvailable(): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  const probe = await Deno.makeTempDir({ prefix: "backup-tmpfs-probe-" });
  try {
    if (!(await mountTmpfs(probe, "64k"))) return false;
    await umount(probe);
    return true;
  } finally {
    await Deno.remove(probe, { recursive: true }).catch(() => {});
  }
}

async function mountTmpfs(path: string, size: string): Promise<boolean> {
  try {
    const r = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", path],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

async function umount(path: string): Promise<void> {
  await new Deno.Command("umount", { args: [path], stdout: "null", stderr: "null" }).output();
}

const TMPFS = await tmpfsAvailable();

Deno.test({
  name:
    "backup onto a disk that fills up exits 1 saying the disk is full, and leaves nothing there",
  ignore: !TMPFS,
  fn: async () => {
    await using dir = await tempDir({ prefix: "backup-full-" });
    const kvPath = `${dir.path}/engine.kv`;
    const kv = await Deno.openKv(kvPath);
    try {
      const value = new Uint8Array(1000);
      for (let i = 0; i < 3000; i += 200) {
        const op = kv.atomic();
        for (let j = i; j < i + 200; j++) op.set(["msg", `m${j}`], value);
        assert.ok((await op.commit()).ok);
      }
    } finally {
      kv.close();
    }
    const config = await writeConfig(dir.path, { node: { id: "t" }, kv: { path: kvPath } });
    const small = `${dir.path}/small`;
    await Deno.mkdir(small);
    assert.ok(await mountTmpfs(small, "1m"));
    try {
      const r = await run(["backup", config, `${small}/copy.kv`]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /^backup: the disk holding .*\/small\/copy\.kv is full \(database or disk is full\)/,
      );
      assert.deepEqual([...Deno.readDirSync(small)].map((e) => e.name), []);
    } finally {
      await umount(small);
    }
  },
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

const controlId = (m: Hl7Message) => m.getSegment("MSH")?.getField(10)?.toString() ?? "?";

/** An MLLP receiver answering AA, keeping each message's MSH-10 in arrival order. */
function recorder() {
  const received: string[] = [];
  const server = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(controlId(message));
      connection.send(message.buildAck());
    });
  });
  return { server, received };
}

/** Consecutive repeats collapsed (a message in flight at a stop may come twice). */
const collapse = (ids: string[]) => ids.filter((id, i) => id !== ids[i - 1]);

Deno.test("backup of a running engine while a sender keeps sending; restored after a stop, the next start delivers what was queued in order, and the logs are there", async () => {
  await using dir = await tempDir({ prefix: "backup-restore-" });
  const kvPath = `${dir.path}/engine.kv`;
  const up = recorder();
  const upPort = await startHl7Server(up.server);
  const downPort = freePort(); // nothing listens there until after the restore
  const inPort = freePort();
  const cfg = await writeConfig(dir.path, {
    node: { id: "backup" },
    kv: { path: kvPath },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    admin: { token: { env: "ADMIN_T" } },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: inPort, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [
      { id: "up", environment: "dev", mllp: { host: "127.0.0.1", port: upPort } },
      { id: "down", environment: "dev", mllp: { host: "127.0.0.1", port: downPort } },
    ],
    subscriptions: [{ from: { integration: "feed" }, to: ["up", "down"] }],
  });
  const down = recorder();
  let engine = spawnEngine({
    flags: ["-A"],
    args: ["serve", "--config", cfg],
    env: { ADMIN_T: TOKEN },
  });
  const stop = async (e: typeof engine) => {
    if (!e.exited()) e.child.kill("SIGTERM");
    const status = await e.status;
    await e.drained;
    return status;
  };
  const sent: string[] = [];
  let sending = true;
  let sender: Promise<void> | undefined;
  try {
    await waitFor("the engine listening", () => engine.output().includes("mllp.listening"), 30_000)
      .catch((e) => {
        throw new Error(`${e.message}\n${engine.output()}`);
      });
    const client = new Hl7Client({ host: "127.0.0.1", port: inPort });
    const send = async (id: string) => {
      const ack = await client.sendAndWait(Hl7Message.parse(adt(id)), { timeoutMs: 20_000 });
      assert.equal(ack.getSegment("MSA")?.getField(1)?.toString(), "AA", id);
      sent.push(id);
    };
    for (let i = 0; i < 10; i++) await send(`PRE${String(i).padStart(3, "0")}`);
    await waitFor("the first ten delivered to up", () => up.received.length >= 10, 30_000);

    // A sender that keeps sending (bounded) while the backup runs.
    sender = (async () => {
      for (let i = 0; i < 5000 && sending; i++) await send(`LIVE${String(i).padStart(4, "0")}`);
    })();
    await waitFor("the sender under way", () => sent.length >= 15, 30_000);
    const ackedBefore = [...sent];
    const out = `${dir.path}/backup.kv`;
    // As the operator runs it: with the engine's environment (the config's secrets resolve).
    const backup = await run(["backup", cfg, out], { ADMIN_T: TOKEN });
    sending = false;
    await sender;
    await client.close();
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    assert.match(backup.stdout, /MiB written in [\d.]+ s \(VACUUM INTO/);
    assert.match(backup.stdout, /could not checkpoint the engine's WAL/);
    const copied = Number(/in the copy: (\d+) messages/.exec(backup.stdout)?.[1]);
    assert.ok(copied >= ackedBefore.length, backup.stdout);
    assert.ok(copied <= sent.length, backup.stdout);
    assert.deepEqual(await quickCheck(out), ["ok"]);

    const stopped = await stop(engine);
    assert.equal(stopped.code, 0, engine.output());
    assert.deepEqual(down.received, []);

    // Restore: the copy in place of the KV file, the old -wal/-shm removed.
    await Deno.copyFile(out, kvPath);
    for (const stale of [`${kvPath}-wal`, `${kvPath}-shm`]) {
      await Deno.remove(stale).catch(() => {});
    }
    await down.server.start(downPort);
    engine = spawnEngine({
      flags: ["-A"],
      args: ["serve", "--config", cfg],
      env: { ADMIN_T: TOKEN },
    });
    await waitFor(
      "every message in the copy delivered to down",
      () => new Set(down.received).size >= copied,
      60_000,
    ).catch((e) => {
      throw new Error(`${e.message}; received ${down.received.length}\n${engine.output()}`);
    });
    // In order: exactly the first `copied` messages acknowledged, every one acknowledged before
    // the backup began among them.
    assert.deepEqual(collapse(down.received), sent.slice(0, copied));
    assert.equal((await stop(engine)).code, 0, engine.output());

    // The logs are there: each message acknowledged before the backup has its delivery to up
    // (made before the backup) and to down (made after the restore).
    const kv = await Deno.openKv(kvPath);
    const delivered = new Map<string, Set<string>>();
    try {
      for await (const e of kv.list<LogRecord>({ prefix: ["log"] })) {
        const log = e.value;
        if (log.type !== "SEND" || log.status !== "SUCCEEDED") continue;
        const set = delivered.get(log.destinationId ?? "?") ?? new Set();
        set.add(log.controlId ?? "?");
        delivered.set(log.destinationId ?? "?", set);
      }
    } finally {
      kv.close();
    }
    for (const id of ackedBefore) {
      assert.ok(delivered.get("up")?.has(id), `no delivery log to up for ${id}`);
      assert.ok(delivered.get("down")?.has(id), `no delivery log to down for ${id}`);
    }
  } finally {
    sending = false;
    await sender?.catch(() => {});
    await stop(engine);
    await up.server.stop().catch(() => {});
    await down.server.stop().catch(() => {});
  }
});
