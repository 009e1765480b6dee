/**
 * No unhandled rejection anywhere: the test suite fails on one (checked here on a fixture), and
 * the engine process (`main.ts serve`) logs and contains one instead of dying. The engine has no
 * code path known to leave one, so the test triggers them from a `--preload` module that only
 * this test passes: nothing in the product can be made to reject on purpose.
 */

import assert from "node:assert/strict";
import { adt, freePort, waitFor } from "../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../helpers/raw_sender.ts";
import { spawnEngine } from "../helpers/engine_process.ts";
import { tempDir } from "../helpers/temp.ts";

/** Runs `deno <args>` to the end; exit code and both outputs. */
async function deno(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, output: text.decode(out.stdout) + text.decode(out.stderr) };
}

Deno.test("deno test fails a run in which a test leaves an unhandled rejection", async () => {
  const dir = await Deno.makeTempDir({ prefix: "stray-test-" });
  try {
    await Deno.writeTextFile(
      `${dir}/leaky_test.ts`,
      `Deno.test("leaves a rejection", async () => {
  Promise.reject(new Error("stray rejection from the fixture"));
  await new Promise((r) => setTimeout(r, 20));
});
Deno.test("a later test", () => {});
`,
    );
    await Deno.writeTextFile(
      `${dir}/clean_test.ts`,
      `Deno.test("handles its rejection", async () => {
  await Promise.reject(new Error("handled")).catch(() => {});
  await new Promise((r) => setTimeout(r, 20));
});
`,
    );
    // The same runner on a clean file passes: the failure below is the rejection's doing.
    const clean = await deno(["test", "--no-config", "clean_test.ts"], dir);
    assert.equal(clean.code, 0, clean.output);
    const leaky = await deno(["test", "--no-config", "leaky_test.ts"], dir);
    assert.notEqual(leaky.code, 0, leaky.output);
    assert.match(leaky.output, /stray rejection from the fixture/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main.ts serve logs an unhandled rejection and an uncaught error and keeps serving", async () => {
  await using dir = await tempDir({ prefix: "stray-engine-" });
  // Chosen ahead, not 0: the engine child process binds them from its config file.
  const [mllpPort, httpPort] = [freePort(), freePort()];
  await Deno.writeTextFile(
    `${dir.path}/config.json`,
    JSON.stringify({
      node: { id: "stray" },
      kv: { path: `${dir.path}/engine.kv` },
      http: { port: httpPort, hostname: "127.0.0.1", development: true },
      admin: { token: { env: "STRAY_ADMIN_TOKEN" } },
      environments: [{ id: "dev", type: "development" }],
      integrations: [{
        id: "feed",
        environment: "dev",
        mllp: { port: mllpPort, allowedIps: ["127.0.0.0/8"] },
      }],
    }),
  );
  // Test-only code in the engine's process: SIGUSR2 leaves a rejection unhandled, SIGUSR1 throws
  // from a timer callback, as a bug in any module would.
  await Deno.writeTextFile(
    `${dir.path}/stray.ts`,
    `Deno.addSignalListener("SIGUSR2", () => {
  Promise.reject(new Error("deliberate stray rejection"));
});
Deno.addSignalListener("SIGUSR1", () => {
  setTimeout(() => {
    throw new Error("deliberate stray throw");
  }, 0);
});
`,
  );
  const { child, status, drained, output, exited } = spawnEngine({
    flags: ["-A", "--preload", `${dir.path}/stray.ts`],
    args: ["serve", "--config", `${dir.path}/config.json`],
    env: { STRAY_ADMIN_TOKEN: "stray-admin-token-0123456789" },
  });
  const seen = (what: string, pattern: RegExp) =>
    waitFor(what, () => {
      assert.ok(!exited(), `the engine exited:\n${output()}`);
      return pattern.test(output());
    }, 30_000);
  try {
    await waitFor("the engine listening", () => {
      assert.ok(!exited(), `the engine exited:\n${output()}`);
      return /http\.listening/.test(output()) && /mllp\.listening/.test(output());
    }, 30_000);

    child.kill("SIGUSR2");
    await seen(
      "the rejection logged",
      /ERROR engine\.unhandled-rejection .*deliberate stray rejection/,
    );
    child.kill("SIGUSR1");
    await seen("the throw logged", /ERROR engine\.uncaught-error .*deliberate stray throw/);

    // Still up and serving.
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    assert.equal(health.status, 200, await health.text());
    const sender = await RawMllpSender.connect(mllpPort);
    try {
      const ack = summarizeAck(await sender.request(adt("AFTER-STRAY"), 10_000));
      assert.equal(ack.code, "AA", JSON.stringify(ack));
    } finally {
      await sender.close();
    }
    assert.ok(!exited(), output());
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    const s = await status;
    await drained;
    assert.equal(s.code, 0, output());
  }
});
