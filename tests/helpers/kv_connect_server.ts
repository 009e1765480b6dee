/**
 * A test-only KV Connect server, written from the published protocol (denoland/denokv
 * `proto/kv-connect.md` and `proto/schema/datapath.proto`): the metadata exchange (a POST to the
 * URL with the access token as bearer, answered with the protocol version, a database id, the
 * data-path endpoint and a data-path token), `snapshot_read`, `atomic_write` and `watch`
 * (protocol 3: 4-byte little-endian length-delimited `WatchOutput` frames). It behaves as a
 * self-hosted `denokv` does where the engine may notice: at most 10 checks and 1,000 mutations
 * per atomic write, no enqueues, bearer-token auth on every request.
 *
 * Data lives in a local Deno KV (a temp file or `:memory:`): each raw KV Connect key is stored as
 * the one-part key `[bytes]` (byte strings keep their order through KV's tuple encoding, so a raw
 * range read is a local range read), V8 values as their bytes, LE64 values as `Deno.KvU64` (so a
 * sum is the local KV's sum), literal bytes wrapped as `{ b: bytes }`. Versionstamps are the
 * local KV's. `Deno.openKv("http://127.0.0.1:PORT")` with `DENO_KV_ACCESS_TOKEN` reaches it.
 *
 * Runs in the test process or, as `deno run -A tests/helpers/kv_connect_server.ts PATH TOKEN`,
 * as a process of its own (it prints `kv-connect listening PORT`).
 * @module
 */

import protobuf from "protobufjs";

/** The datapath messages this server reads and writes (field numbers from datapath.proto). */
const SCHEMA = `
syntax = "proto3";
package com.deno.kv.datapath;
message SnapshotRead { repeated ReadRange ranges = 1; }
message SnapshotReadOutput {
  repeated ReadRangeOutput ranges = 1;
  bool read_disabled = 2;
  bool read_is_strongly_consistent = 4;
  int32 status = 8;
}
message ReadRange { bytes start = 1; bytes end = 2; int32 limit = 3; bool reverse = 4; }
message ReadRangeOutput { repeated KvEntry values = 1; }
message AtomicWrite {
  repeated Check checks = 1;
  repeated Mutation mutations = 2;
  repeated Enqueue enqueues = 3;
}
message AtomicWriteOutput { int32 status = 1; bytes versionstamp = 2; repeated uint32 failed_checks = 4; }
message Check { bytes key = 1; bytes versionstamp = 2; }
message Mutation {
  bytes key = 1;
  KvValue value = 2;
  int32 mutation_type = 3;
  int64 expire_at_ms = 4;
  bytes sum_min = 5;
  bytes sum_max = 6;
  bool sum_clamp = 7;
}
message KvValue { bytes data = 1; int32 encoding = 2; }
message KvEntry { bytes key = 1; bytes value = 2; int32 encoding = 3; bytes versionstamp = 4; }
message Enqueue { bytes payload = 1; int64 deadline_ms = 2; }
message Watch { repeated WatchKey keys = 1; }
message WatchOutput { int32 status = 1; repeated WatchKeyOutput keys = 2; }
message WatchKey { bytes key = 1; }
message WatchKeyOutput { bool changed = 1; KvEntry entry_if_changed = 2; }
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const type = (name: string) => root.lookupType(`com.deno.kv.datapath.${name}`);
const T = {
  SnapshotRead: type("SnapshotRead"),
  SnapshotReadOutput: type("SnapshotReadOutput"),
  AtomicWrite: type("AtomicWrite"),
  AtomicWriteOutput: type("AtomicWriteOutput"),
  Watch: type("Watch"),
  WatchOutput: type("WatchOutput"),
};

/** ValueEncoding. */
const VE_V8 = 1, VE_LE64 = 2, VE_BYTES = 3;
/** MutationType. */
const M_SET = 1, M_DELETE = 2, M_SUM = 3, M_MAX = 4, M_MIN = 5;
/** AtomicWriteStatus. */
const AW_SUCCESS = 1, AW_CHECK_FAILURE = 2;
/** SnapshotReadStatus. */
const SR_SUCCESS = 1;

/** A self-hosted denokv's limits (denokv `limits.rs`). */
export const KV_CONNECT_LIMITS = { maxChecks: 10, maxMutations: 1000, maxReadRanges: 10 };

interface RawRange {
  start: Uint8Array;
  end: Uint8Array;
  limit: number;
  reverse: boolean;
}
interface RawCheck {
  key: Uint8Array;
  versionstamp: Uint8Array;
}
interface RawMutation {
  key: Uint8Array;
  value?: { data: Uint8Array; encoding: number };
  mutation_type: number;
  expire_at_ms?: number | { toNumber(): number };
}

/** What {@link startKvConnectServer} returns. */
export interface KvConnectServer {
  /** `http://127.0.0.1:PORT`: the URL to give `Deno.openKv` (or the config's `kv.path`). */
  readonly url: string;
  readonly port: number;
  /** Counters of what clients asked for (tests read them). */
  readonly stats: {
    metadata: number;
    reads: number;
    writes: number;
    watches: number;
    /** Atomic writes refused for more than 10 checks. */
    tooManyChecks: number;
    /** Most checks seen in one atomic write. */
    maxChecksSeen: number;
    /** Requests refused for a missing or wrong token. */
    unauthorized: number;
  };
  /** Stops serving and closes the local KV. */
  close(): Promise<void>;
}

/** Options of {@link startKvConnectServer}. */
export interface KvConnectServerOptions {
  /** The local KV: a file path, default `:memory:`. */
  path?: string;
  /** The access token clients must present (a denokv requires at least 12 characters). */
  accessToken: string;
  /** Default 0: a port the system chooses. */
  port?: number;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

/** Starts the server; see the module doc. */
export async function startKvConnectServer(
  options: KvConnectServerOptions,
): Promise<KvConnectServer> {
  const kv = await Deno.openKv(options.path ?? ":memory:");
  const databaseId = crypto.randomUUID();
  // The data-path token differs from the access token, as the protocol lets it.
  const dataToken = hex(crypto.getRandomValues(new Uint8Array(16)));
  const stats: KvConnectServer["stats"] = {
    metadata: 0,
    reads: 0,
    writes: 0,
    watches: 0,
    tooManyChecks: 0,
    maxChecksSeen: 0,
    unauthorized: 0,
  };
  const watchers = new Set<AbortController>();

  const text = (status: number, body: string) =>
    new Response(body, { status, headers: { "content-type": "text/plain" } });
  const proto = (t: protobuf.Type, value: Record<string, unknown>) =>
    new Response(new Uint8Array(t.encode(t.fromObject(value)).finish()), {
      headers: { "content-type": "application/x-protobuf" },
    });
  const bearer = (req: Request) =>
    /^Bearer (.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];

  function entryOf(key: Uint8Array, e: Deno.KvEntryMaybe<unknown>) {
    const v = e.value;
    const [value, encoding] = v instanceof Deno.KvU64
      ? [le64(v.value), VE_LE64]
      : v instanceof Uint8Array
      ? [v, VE_V8]
      : [(v as { b: Uint8Array }).b, VE_BYTES];
    return { key, value, encoding, versionstamp: unhex(e.versionstamp!) };
  }

  async function snapshotRead(body: Uint8Array): Promise<Response> {
    const req = T.SnapshotRead.toObject(T.SnapshotRead.decode(body)) as { ranges?: RawRange[] };
    const ranges = req.ranges ?? [];
    if (ranges.length > KV_CONNECT_LIMITS.maxReadRanges) {
      return text(400, "Too many read ranges requested in one read request.");
    }
    stats.reads++;
    const out = [];
    for (const r of ranges) {
      const start = r.start ?? new Uint8Array(), end = r.end ?? new Uint8Array();
      const values = [];
      if (compare(start, end) < 0 && (r.limit ?? 0) > 0) {
        const iter = kv.list({ start: [start], end: [end] }, {
          limit: r.limit,
          reverse: !!r.reverse,
        });
        for await (const e of iter) values.push(entryOf(e.key[0] as Uint8Array, e));
      }
      out.push({ values });
    }
    return proto(T.SnapshotReadOutput, {
      ranges: out,
      read_disabled: false,
      read_is_strongly_consistent: true,
      status: SR_SUCCESS,
    });
  }

  async function atomicWrite(body: Uint8Array): Promise<Response> {
    const req = T.AtomicWrite.toObject(T.AtomicWrite.decode(body)) as {
      checks?: RawCheck[];
      mutations?: RawMutation[];
      enqueues?: unknown[];
    };
    const checks = req.checks ?? [], mutations = req.mutations ?? [];
    stats.maxChecksSeen = Math.max(stats.maxChecksSeen, checks.length);
    if (checks.length > KV_CONNECT_LIMITS.maxChecks) {
      stats.tooManyChecks++;
      return text(400, "Too many checks included in atomic write.");
    }
    if (mutations.length > KV_CONNECT_LIMITS.maxMutations) {
      return text(400, "Too many mutations / enqueues included in atomic write.");
    }
    if ((req.enqueues ?? []).length > 0) return text(400, "Enqueues are not supported.");
    const op = kv.atomic();
    for (const c of checks) {
      const vs = c.versionstamp && c.versionstamp.length > 0 ? hex(c.versionstamp) : null;
      op.check({ key: [c.key], versionstamp: vs });
    }
    const now = Date.now();
    for (const m of mutations) {
      const key: Deno.KvKey = [m.key];
      const v = m.value;
      const at = typeof m.expire_at_ms === "number"
        ? m.expire_at_ms
        : m.expire_at_ms?.toNumber() ?? 0;
      const expiry = at > 0 ? { expireIn: Math.max(1, at - now) } : undefined;
      switch (m.mutation_type) {
        case M_SET:
          if (!v) return text(400, "Invalid mutation kind or arguments.");
          op.set(key, stored(v), expiry);
          break;
        case M_DELETE:
          op.delete(key);
          break;
        case M_SUM:
        case M_MAX:
        case M_MIN: {
          if (v?.encoding !== VE_LE64 || v.data.length !== 8) {
            return text(400, "Invalid mutation kind or arguments.");
          }
          const n = new Deno.KvU64(readLe64(v.data));
          if (m.mutation_type === M_SUM) op.sum(key, n.value);
          else if (m.mutation_type === M_MAX) op.max(key, n.value);
          else op.min(key, n.value);
          break;
        }
        default:
          return text(400, "Invalid mutation kind or arguments.");
      }
    }
    stats.writes++;
    const result = await op.commit();
    if (!result.ok) return proto(T.AtomicWriteOutput, { status: AW_CHECK_FAILURE });
    return proto(T.AtomicWriteOutput, {
      status: AW_SUCCESS,
      versionstamp: unhex(result.versionstamp),
    });
  }

  function watch(body: Uint8Array): Response {
    const req = T.Watch.toObject(T.Watch.decode(body)) as { keys?: { key: Uint8Array }[] };
    const rawKeys = (req.keys ?? []).map((k) => k.key ?? new Uint8Array());
    stats.watches++;
    const abort = new AbortController();
    watchers.add(abort);
    // The server's own writes go through this KV handle, so the local watch sees every change.
    const source = kv.watch(rawKeys.map((k) => [k] as Deno.KvKey));
    const reader = source.getReader();
    const seen: (string | null | undefined)[] = rawKeys.map(() => undefined);
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await Promise.race([
          reader.read(),
          new Promise<{ done: true }>((r) =>
            abort.signal.addEventListener("abort", () => r({ done: true }), { once: true })
          ),
        ]);
        if (next.done) {
          controller.close();
          return;
        }
        const entries = next.value as Deno.KvEntryMaybe<unknown>[];
        const keys = entries.map((e, i) => {
          if (seen[i] !== undefined && seen[i] === e.versionstamp) return { changed: false };
          seen[i] = e.versionstamp;
          return {
            changed: true,
            ...(e.versionstamp !== null ? { entry_if_changed: entryOf(rawKeys[i]!, e) } : {}),
          };
        });
        const frame = T.WatchOutput.encode(T.WatchOutput.fromObject({ status: SR_SUCCESS, keys }))
          .finish();
        const out = new Uint8Array(4 + frame.length);
        new DataView(out.buffer).setUint32(0, frame.length, true);
        out.set(frame, 4);
        controller.enqueue(out);
      },
      cancel() {
        watchers.delete(abort);
        abort.abort();
        reader.cancel().catch(() => {});
      },
    });
    abort.signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
    return new Response(stream, { headers: { "content-type": "application/octet-stream" } });
  }

  async function handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (req.method !== "POST") return text(405, "POST only");
    if (path === "/") {
      // Metadata exchange: the access token the operator configured.
      if (bearer(req) !== options.accessToken) {
        stats.unauthorized++;
        return text(401, "Invalid access token.");
      }
      const asked = await req.json().catch(() => ({})) as { supportedVersions?: number[] };
      const versions = asked.supportedVersions ?? [1];
      const version = [3, 2].find((v) => versions.includes(v));
      if (!version) return text(400, "The server requires protocol version 2 or 3.");
      stats.metadata++;
      return Response.json({
        version,
        databaseId,
        endpoints: [{ url: "/v2", consistency: "strong" }],
        token: dataToken,
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      });
    }
    if (!path.startsWith("/v2/")) return text(404, "Resource not found.");
    if (bearer(req) !== dataToken) {
      stats.unauthorized++;
      return text(401, "Invalid access token.");
    }
    if (!["2", "3"].includes(req.headers.get("x-denokv-version") ?? "")) {
      return text(400, "Expected protocol version 2 or 3.");
    }
    if (req.headers.get("x-denokv-database-id") !== databaseId) {
      return text(400, "Invalid database id.");
    }
    const body = new Uint8Array(await req.arrayBuffer());
    try {
      switch (path) {
        case "/v2/snapshot_read":
          return await snapshotRead(body);
        case "/v2/atomic_write":
          return await atomicWrite(body);
        case "/v2/watch":
          return watch(body);
        default:
          return text(404, "Resource not found.");
      }
    } catch (error) {
      // A malformed request, or a local KV refusal (a value or key over its limit).
      return text(400, `Request refused: ${(error as Error).message}`);
    }
  }

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, handle);
  const port = server.addr.port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    async close() {
      for (const w of watchers) w.abort();
      await server.shutdown();
      kv.close();
    },
  };
}

function stored(v: { data: Uint8Array; encoding: number }): unknown {
  if (v.encoding === VE_LE64) return new Deno.KvU64(readLe64(v.data));
  if (v.encoding === VE_BYTES) return { b: v.data };
  return v.data; // V8: kept as the bytes the client serialized
}

function readLe64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

function le64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, true);
  return out;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

if (import.meta.main) {
  const [path, token] = Deno.args;
  if (!path || !token) throw new Error("usage: kv_connect_server.ts PATH TOKEN");
  const server = await startKvConnectServer({ path, accessToken: token });
  Deno.stdout.writeSync(new TextEncoder().encode(`kv-connect listening ${server.port}\n`));
  Deno.addSignalListener("SIGTERM", () => {
    server.close().finally(() => Deno.exit(0));
  });
}
