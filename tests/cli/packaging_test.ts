/**
 * The single binary (`deno task compile`) and the Docker image cannot be built here (both download
 * a Deno runtime), so these tests hold them to what can run: the same entry point with exactly the
 * same flags, through a whole receive → store → deliver loop.
 */

import assert from "node:assert/strict";
import { Hl7Server } from "@medplum/hl7";
import { sendFiles } from "../../transports/mllp/send.ts";
import { freePort, retryOnPortTaken, startHl7Server, waitFor } from "../helpers/net.ts";
import { type EngineProcess, spawnEngine } from "../helpers/engine_process.ts";
import { systemToolsRequired } from "../helpers/system_tools.ts";
import { findJemalloc } from "../../app/allocator.ts";
import { tempDir } from "../helpers/temp.ts";

const root = new URL("../../", import.meta.url);

async function tasks(): Promise<Record<string, string>> {
  const json = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  return json.tasks;
}

/** The `--flag` words of a command line, without `--output FILE`. */
function flagsOf(command: string): string[] {
  const words = command.split(/\s+/);
  return words.filter((w, i) =>
    w.startsWith("--") && !["--output", "--include"].includes(w) &&
    !["--output", "--include"].includes(words[i - 1]!)
  );
}

/**
 * The modules started as Workers (`new Worker(new URL("./x.ts", import.meta.url)…`) under `tops`:
 * the engine's by default.
 */
async function workerModules(
  tops: readonly string[] = ["app", "actors", "transports", "codecs"],
): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: URL, rel: string): Promise<void> {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(new URL(`${e.name}/`, dir), `${rel}${e.name}/`);
      else if (e.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(new URL(e.name, dir));
        for (const m of text.matchAll(/new Worker\(\s*new URL\("([^"]+)", import\.meta\.url\)/g)) {
          found.push(new URL(m[1]!, `file:///${rel}${e.name}`).pathname.slice(1));
        }
      }
    }
  }
  for (const top of tops) await walk(new URL(`${top}/`, root), `${top}/`);
  return found.sort();
}

Deno.test("the compile task includes every module the engine starts as a Worker (a binary holds only what it is told to)", async () => {
  const { compile } = await tasks();
  assert.ok(compile);
  const words = compile.split(/\s+/);
  const included = words.filter((_, i) => words[i - 1] === "--include").sort();
  const workers = await workerModules();
  assert.ok(workers.includes("transports/mllp/out_worker.ts"), workers.join(", "));
  assert.deepEqual(included, workers);
});

Deno.test("the compile task, the start task and the Dockerfile run main.ts with the same permissions and V8 flags", async () => {
  const { compile, start } = await tasks();
  assert.ok(compile && start);
  assert.match(compile, /^deno compile .* main\.ts$/);
  const compiled = flagsOf(compile);
  // A binary cannot read deno.json, so it must carry the KV flag itself.
  assert.ok(compiled.includes("--unstable-kv"), compile);
  const runFlags = compiled.filter((f) => f !== "--unstable-kv").sort();
  assert.deepEqual(
    runFlags.filter((f) => !f.startsWith("--v8-flags=")),
    ["--allow-env", "--allow-net", "--allow-read", "--allow-sys", "--allow-write"],
  );
  // V8 keeps the heap and the optimized code it has while the engine is idle (see the README).
  assert.ok(runFlags.includes("--v8-flags=--no-memory-reducer"), compile);
  assert.match(start, /^deno run .* main\.ts serve --config config\/demo\.json$/);
  assert.deepEqual(flagsOf(start.replace(/ main\.ts.*$/, "")).sort(), runFlags);

  const dockerfile = await Deno.readTextFile(new URL("Dockerfile", root));
  const stages = dockerfile.split(/^FROM /m).slice(1);
  assert.equal(stages.length, 3, "multi-stage: build, jemalloc, then runtime");
  // The first stage builds the binary with the compile task's command, word for word.
  const build = /^RUN (deno compile .*)$/m.exec(stages[0]!);
  assert.ok(build, "the build stage runs deno compile");
  assert.equal(build[1], compile);
  // The runtime stage ships the binary only: no Deno, no sources.
  const runtime = stages[2]!;
  assert.doesNotMatch(runtime.split("\n")[0]!, /deno/, "the runtime image has no Deno");
  assert.match(runtime, /^COPY --from=build \/src\/dist\/engine \/app\/engine$/m);
  assert.doesNotMatch(runtime, /^COPY (actors|transports|codecs|app|main\.ts)\b/m);
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(runtime);
  assert.ok(entry, "Dockerfile has an exec-form ENTRYPOINT");
  assert.deepEqual(JSON.parse(entry[1]!), ["/app/engine"]);
  const cmd = /^CMD (\[.*\])$/m.exec(runtime);
  assert.ok(cmd, "Dockerfile has an exec-form CMD");
  assert.equal((JSON.parse(cmd[1]!) as string[]).join(" "), start.replace(/^.* main\.ts /, ""));
  assert.match(runtime, /^USER (?!0|root)\S+$/m, "the image runs as an unprivileged user");
  assert.match(runtime, /^VOLUME \["\/app\/data"\]$/m, "KV lives on a volume");
  assert.match(
    runtime,
    /^HEALTHCHECK .*\n\s+CMD \["\/app\/engine", "health", "http:\/\/127\.0\.0\.1:8080\/healthz"\]$/m,
    "the image checks /healthz with the binary itself",
  );
});

Deno.test("the image preloads jemalloc from the Debian release its runtime is built on", async () => {
  const dockerfile = await Deno.readTextFile(new URL("Dockerfile", root));
  const [, jemalloc, runtime] = dockerfile.split(/^FROM /m).slice(1) as [string, string, string];
  // distroless's cc-debian12 is Debian 12, bookworm: the library links against the same glibc.
  assert.match(runtime.split("\n")[0]!, /^gcr\.io\/distroless\/cc-debian12\b/);
  assert.match(jemalloc.split("\n")[0]!, /^debian:bookworm-slim AS jemalloc$/);
  assert.match(jemalloc, /apt-get install -y --no-install-recommends libjemalloc2/);
  const staged = /cp "\$\(ls \/usr\/lib\/\*-linux-gnu\/libjemalloc\.so\.2\)" (\S+)$/m.exec(
    jemalloc,
  );
  assert.ok(staged, "the jemalloc stage copies the library out of its arch folder");
  const copied = /^COPY --from=jemalloc (\S+) (\S+)$/m.exec(runtime);
  assert.ok(copied, "the runtime stage copies the library in");
  assert.equal(copied[1], staged[1]);
  const preload = /^ENV LD_PRELOAD=(\S+)$/m.exec(runtime);
  assert.ok(preload, "the runtime stage preloads it");
  assert.equal(preload[1], copied[2]);
});

/**
 * Starts `main.ts serve` with `flags` on a config in `dir` (integration `feed` → destination `out`
 * at `outPort`) and waits until it listens. Its ports are chosen ahead (the child binds them from
 * its config file), so another socket may take one meanwhile: a start the child refused with
 * "address already in use" fails with `Deno.errors.AddrInUse` as its cause, and
 * {@link retryOnPortTaken} makes it again with new ports.
 */
async function serveWith(
  flags: string[],
  dir: string,
  outPort: number,
  env: Record<string, string> = {},
): Promise<{ engine: EngineProcess; inPort: number; httpPort: number }> {
  return await retryOnPortTaken(async () => {
    const [inPort, httpPort] = [freePort(), freePort()];
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({
        kv: { path: `${dir}/engine.kv` },
        http: { port: httpPort, development: true },
        environments: [{ id: "dev", type: "development" }],
        integrations: [{
          id: "feed",
          environment: "dev",
          mllp: { port: inPort, allowedIps: ["127.0.0.1"] },
        }],
        destinations: [{
          id: "out",
          environment: "dev",
          mllp: { host: "127.0.0.1", port: outPort },
        }],
        subscriptions: [{ from: { integration: "feed" }, to: ["out"] }],
      }),
    );
    const engine = spawnEngine({ flags, args: ["serve", "--config", `${dir}/config.json`], env });
    const { child, output, exited } = engine;
    try {
      await waitFor("the engine listening", () => {
        assert.ok(!exited(), `the engine exited:\n${output()}`);
        return /http\.listening/.test(output()) && /mllp\.listening/.test(output());
      }, 30_000);
      return { engine, inPort, httpPort };
    } catch (error) {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      await engine.status;
      await engine.drained;
      const taken = /address already in use/i.test(output());
      throw new Error(
        `${(error as Error).message}\n${output()}`,
        taken ? { cause: new Deno.errors.AddrInUse("a port chosen ahead was taken") } : {},
      );
    }
  });
}

Deno.test("main.ts serve with exactly the compile task's flags and jemalloc preloaded, as in the image, receives, delivers, answers /healthz and stops on SIGTERM", async () => {
  const { compile } = await tasks();
  assert.ok(compile);
  await using dir = await tempDir({ prefix: "packaged-" });
  const received: string[] = [];
  const receiver = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(message.getSegment("MSH")?.getField(10)?.toString() ?? "?");
      connection.send(message.buildAck());
    });
  });
  const outPort = await startHl7Server(receiver);
  // As the image runs it: jemalloc preloaded where it is installed (CI installs it).
  const jemalloc = findJemalloc();
  assert.ok(jemalloc || !systemToolsRequired(), "libjemalloc2 is installed (.ci/run installs it)");
  const env: Record<string, string> = jemalloc ? { LD_PRELOAD: jemalloc } : {};
  // Exactly the binary's flags: no -A, so a permission the engine needs but the binary lacks fails.
  const served = await serveWith(flagsOf(compile), dir.path, outPort, env).catch(async (error) => {
    await receiver.stop();
    throw error;
  });
  const { engine: { child, output }, inPort, httpPort } = served;
  try {
    const showing = (e: Error) => {
      throw new Error(`${e.message}\n${output()}`);
    };
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    assert.equal(health.status, 200, await health.text());
    const results = await sendFiles({
      host: "127.0.0.1",
      port: inPort,
      files: [new URL("config/samples/lab_batch.hl7", root).pathname],
    });
    assert.deepEqual(results.map((r) => r.code), ["AA", "AA"]);
    await waitFor("both messages delivered", () => received.length === 2, 30_000).catch(showing);
    assert.deepEqual(received, results.map((r) => r.controlId));
    // It says which allocator it runs with (without jemalloc: how to preload it).
    const said = jemalloc
      ? `engine.allocator allocator=jemalloc library=${jemalloc}`
      : "engine.allocator allocator=system";
    await waitFor("the allocator logged", () => output().includes(said), 10_000).catch(showing);
    // The admin token was generated beside the KV file, readable by its owner only.
    const token = await Deno.stat(`${dir.path}/admin.token`);
    assert.equal((token.mode ?? 0) & 0o077, 0);
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    const status = await served.engine.status;
    await served.engine.drained;
    await receiver.stop();
    assert.equal(status.code, 0, output());
    assert.doesNotMatch(output(), /\n\s+at /, "no stack trace");
    assert.doesNotMatch(output(), /PermissionDenied|NotCapable|Requires .* access/);
  }
});

Deno.test("main.ts health exits 0 on a 200 from /healthz and 1 otherwise (the image's HEALTHCHECK)", async () => {
  let status = 200;
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response("{}", { status }),
  );
  const url = `http://127.0.0.1:${server.addr.port}/healthz`;
  const run = async () =>
    (await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "main.ts", "health", url],
      cwd: new URL(".", root),
      stdout: "null",
      stderr: "null",
    }).output()).code;
  try {
    assert.equal(await run(), 0);
    status = 503;
    assert.equal(await run(), 1);
  } finally {
    await server.shutdown();
  }
  assert.equal(await run(), 1, "nothing listening");
});

Deno.test("the test task type-checks everything once before the tests run, and no module (a test, a Worker) is type-checked while they run (checked inside a test, under the suite's load, a worker took longer than the test's wait)", async () => {
  const all = await tasks() as Record<string, string | undefined>;
  assert.match(
    all.test ?? "",
    /^deno task check && deno test --allow-all --parallel --no-check tests\/$/,
  );
  const roots = (all.check ?? "").replace(/^deno check /, "").split(/\s+/).filter(Boolean);
  // Every module started as a Worker is under a folder the check task checks (as are the tests).
  const workers = (await workerModules(["app", "actors", "transports", "codecs", "tests"]))
    .filter((m) => {
      try {
        return Deno.statSync(new URL(m, root)).isFile;
      } catch {
        return false;
      }
    });
  assert.ok(workers.includes("tests/actors/engine/large_json_post_worker.ts"), workers.join(", "));
  assert.ok(roots.includes("tests/"), roots.join(" "));
  for (const w of workers) {
    assert.ok(roots.some((r) => r.endsWith("/") ? w.startsWith(r) : w === r), `${w} is checked`);
  }
});
