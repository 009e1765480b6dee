/**
 * The single binary (`deno task compile`) and the Docker image cannot be built here (both download
 * a Deno runtime), so these tests hold them to what can run: the same entry point with exactly the
 * same flags, through a whole receive → store → deliver loop.
 */

import assert from "node:assert/strict";
import { Hl7Server } from "@medplum/hl7";
import { sendFiles } from "../../transports/mllp/send.ts";
import { freePort, waitFor } from "../helpers/net.ts";

const root = new URL("../../", import.meta.url);

async function tasks(): Promise<Record<string, string>> {
  const json = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  return json.tasks;
}

/** The `--flag` words of a command line, without `--output FILE`. */
function flagsOf(command: string): string[] {
  const words = command.split(/\s+/);
  return words.filter((w, i) =>
    w.startsWith("--") && w !== "--output" && words[i - 1] !== "--output"
  );
}

Deno.test("the compile task, the start task and the Dockerfile run main.ts with the same permissions", async () => {
  const { compile, start } = await tasks();
  assert.ok(compile && start);
  assert.match(compile, /^deno compile .* main\.ts$/);
  const compiled = flagsOf(compile);
  // A binary cannot read deno.json, so it must carry the KV flag itself.
  assert.ok(compiled.includes("--unstable-kv"), compile);
  const permissions = compiled.filter((f) => f !== "--unstable-kv").sort();
  assert.deepEqual(
    permissions,
    ["--allow-env", "--allow-net", "--allow-read", "--allow-sys", "--allow-write"],
  );
  assert.match(start, /^deno run .* main\.ts serve --config config\/demo\.json$/);
  assert.deepEqual(flagsOf(start.replace(/ main\.ts.*$/, "")).sort(), permissions);

  const dockerfile = await Deno.readTextFile(new URL("Dockerfile", root));
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  assert.ok(entry, "Dockerfile has an exec-form ENTRYPOINT");
  const argv: string[] = JSON.parse(entry[1]!);
  assert.deepEqual(argv.slice(0, 2), ["deno", "run"]);
  assert.equal(argv.at(-1), "main.ts");
  assert.deepEqual(argv.filter((a) => a.startsWith("--")).sort(), permissions);
  assert.match(dockerfile, /^USER deno$/m, "the image runs as the unprivileged user");
  assert.match(dockerfile, /^VOLUME \["\/app\/data"\]$/m, "KV lives on a volume");
  assert.equal((dockerfile.match(/^FROM /gm) ?? []).length, 2, "multi-stage");
});

Deno.test("main.ts serve with exactly the compile task's flags receives, delivers, answers /healthz and stops on SIGTERM", async () => {
  const { compile } = await tasks();
  assert.ok(compile);
  const dir = await Deno.makeTempDir({ prefix: "packaged-" });
  const [inPort, outPort, httpPort] = [freePort(), freePort(), freePort()];
  const received: string[] = [];
  const receiver = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(message.getSegment("MSH")?.getField(10)?.toString() ?? "?");
      connection.send(message.buildAck());
    });
  });
  await receiver.start(outPort);
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
      destinations: [{ id: "out", environment: "dev", mllp: { host: "127.0.0.1", port: outPort } }],
      subscriptions: [{ from: { integration: "feed" }, to: ["out"] }],
    }),
  );
  const child = new Deno.Command(Deno.execPath(), {
    // Exactly the binary's flags: no -A, so a permission the engine needs but the binary lacks fails.
    args: ["run", ...flagsOf(compile), "main.ts", "serve", "--config", `${dir}/config.json`],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  let exited = false;
  child.status.then(() => exited = true);
  const drained = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output += chunk;
  }));
  try {
    const showing = (e: Error) => {
      throw new Error(`${e.message}\n${output}`);
    };
    await waitFor("the engine listening", () => {
      assert.ok(!exited, `the engine exited:\n${output}`);
      return /http\.listening/.test(output) && /mllp\.listening/.test(output);
    }, 30_000).catch(showing);
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
    // The admin token was generated beside the KV file, readable by its owner only.
    const token = await Deno.stat(`${dir}/admin.token`);
    assert.equal((token.mode ?? 0) & 0o077, 0);
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    const status = await child.status;
    await drained;
    await receiver.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    assert.equal(status.code, 0, output);
    assert.doesNotMatch(output, /\n\s+at /, "no stack trace");
    assert.doesNotMatch(output, /PermissionDenied|NotCapable|Requires .* access/);
  }
});
