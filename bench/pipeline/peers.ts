/**
 * The peers measured beside the engine, each a child process answering MLLP on 127.0.0.1:
 * `@medplum/hl7`'s `Hl7Server` in Node, `../shared/tools/kv-limit-server.ts`, and the bare
 * pipeline (bare_pipeline.ts).
 * @module
 */

import { firstLine } from "../../tests/helpers/child_output.ts";
import { removeNow, spawn, stopChild, TOOLS, type Tracked } from "./children.ts";
import { type BenchAllocator, engineAllocator } from "../harness.ts";

const decoder = new TextDecoder();

/** A peer server in a child process. */
export interface Peer {
  /** What it is. */
  readonly name: string;
  /** Its MLLP port on 127.0.0.1. */
  readonly port: number;
  /** Stops it (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>;
}

const HL7_SERVER_JS = `
import { Hl7Server } from "@medplum/hl7";
const server = new Hl7Server((connection) => {
  connection.addEventListener("message", ({ message }) => connection.send(message.buildAck()));
  connection.addEventListener("error", () => {});
});
await server.start({ port: 0, host: "127.0.0.1" });
console.log(JSON.stringify({ listening: server.server.address().port, pid: process.pid }));
`;

/** The packages the Node peer needs, with their versions in Deno's npm cache. */
const NODE_PACKAGES = ["@medplum/hl7", "@medplum/core", "iconv-lite", "safer-buffer"];

/**
 * `@medplum/hl7`'s `Hl7Server` answering `message.buildAck()` without persistence, in Node (as
 * its users run it). Node finds the package through a `node_modules` of symlinks into Deno's npm
 * cache (the versions deno.json pins; `node --preserve-symlinks` resolves their own imports there).
 */
export async function startHl7ServerNode(dir: string): Promise<Peer> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const npmCache = (JSON.parse(decoder.decode(info.stdout)) as { npmCache: string }).npmCache;
  const registry = `${npmCache}/registry.npmjs.org`;
  // A folder of its own each time: the bench starts it more than once in one `dir`.
  const peerDir = await Deno.makeTempDir({ dir, prefix: "hl7server-node-" });
  for (const name of NODE_PACKAGES) {
    const versions = [...Deno.readDirSync(`${registry}/${name}`)].filter((e) => e.isDirectory)
      .map((e) => e.name).sort();
    const version = name.startsWith("@medplum/") ? "5.0.10" : versions[versions.length - 1];
    if (!version || !versions.includes(version)) {
      throw new Error(`${name} is not in Deno's npm cache (${registry}); run deno task check`);
    }
    const link = `${peerDir}/node_modules/${name}`;
    await Deno.mkdir(link.slice(0, link.lastIndexOf("/")), { recursive: true });
    await Deno.symlink(`${registry}/${name}/${version}`, link);
  }
  await Deno.writeTextFile(`${peerDir}/server.mjs`, HL7_SERVER_JS);
  const t = spawn(
    "Hl7Server",
    new Deno.Command("node", {
      args: ["--preserve-symlinks", `${peerDir}/server.mjs`],
      cwd: peerDir,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }),
  );
  return await peer("Hl7Server (@medplum/hl7, Node, buildAck)", t);
}

/**
 * `../shared/tools/kv-limit-server.ts` in `mode` (kv1, kv4x, …), its KV file in `dir`; with
 * `allocator`, run under the engine's allocator too (named in its label).
 */
export async function startKvLimit(
  dir: string,
  mode: string,
  allocator?: BenchAllocator,
): Promise<Peer> {
  const kvPath = `${dir}/kv-limit-${mode.replace(/\W/g, "_")}.kv`;
  const t = spawn(
    `kv-limit ${mode}`,
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        new URL("kv-limit-server.ts", TOOLS).pathname,
        "0",
        mode,
        kvPath,
      ],
      cwd: dir,
      env: { ...allocator?.env },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }),
  );
  const label = allocator ? ` (${allocator.name}, as the engine)` : "";
  return await peer(`kv-limit-server ${mode}${label}`, t, () => dropKv(kvPath));
}

/**
 * bench/pipeline/bare_pipeline.ts delivering to `destPort`, its KV file in `dir`: the engine's
 * pipeline with only what its guarantees need, the limit for the whole pipeline in one process.
 * It runs under the engine's allocator, so that the two differ only in their own work.
 */
export async function startBarePipeline(
  dir: string,
  destPort: number,
  allocator: BenchAllocator = engineAllocator(),
): Promise<Peer> {
  const kvPath = `${dir}/bare-pipeline.kv`;
  const t = spawn(
    "bare pipeline",
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-kv",
        new URL("bare_pipeline.ts", import.meta.url).pathname,
        String(destPort),
        kvPath,
      ],
      cwd: dir,
      env: { ...allocator.env },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }),
  );
  return await peer(
    "bare pipeline (same rows and guarantees, nothing else)",
    t,
    () => dropKv(kvPath),
  );
}

/**
 * A stopped peer's KV file goes with it (and its -wal and -shm): its dirty pages are dropped, not
 * written back during the next run.
 */
async function dropKv(kvPath: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) removeNow(kvPath + suffix);
  await settleDisk();
}

/**
 * Flushes the page cache's dirty pages (`sync`), so a run does not pay for the writeback of the
 * one before it in its own fsyncs. Does nothing where `sync` is missing.
 */
export async function settleDisk(): Promise<void> {
  try {
    await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output();
  } catch { /* no sync here */ }
}

async function peer(name: string, t: Tracked, after?: () => Promise<void>): Promise<Peer> {
  let port: number;
  try {
    const first = JSON.parse(await firstLine(t.child.stdout, name)) as { listening: number };
    port = first.listening;
  } catch (error) {
    await stopChild(t, "SIGKILL", 5000);
    throw error;
  }
  return {
    name,
    port,
    stop: async () => {
      await stopChild(t, "SIGTERM", 5000);
      await after?.();
    },
  };
}
