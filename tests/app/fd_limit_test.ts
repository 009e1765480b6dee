import assert from "node:assert/strict";
import {
  checkFdLimit,
  FD_MARGIN,
  type FdLimitConfig,
  fdLimitWarning,
  parseFdLimits,
} from "../../app/fd_limit.ts";
import { MAX_HTTP_CONNECTIONS } from "../../transports/http/connection_limits.ts";
import type { Config } from "../../actors/ports.ts";

/** The engine passes its whole config (checked by the compiler). */
export const fromConfig = (c: Config): FdLimitConfig => c;

const limitsText = (soft: string, hard: string) =>
  "Limit                     Soft Limit           Hard Limit           Units     \n" +
  "Max processes             96367                96367                processes \n" +
  `Max open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     \n`;

/** Two integrations on one MLLP port, one on another; two destinations. */
const config: FdLimitConfig = {
  integrations: [{ mllp: { port: 2575 } }, { mllp: { port: 2575 } }, { mllp: { port: 2576 } }, {}],
  limits: { maxConnectionsPerListener: 1000 },
  destinations: [{}, {}],
};

Deno.test("fd limit: the soft and hard limits are read from /proc/self/limits text", () => {
  assert.deepEqual(parseFdLimits(limitsText("1024", "524288")), { soft: 1024, hard: 524288 });
  assert.deepEqual(parseFdLimits(limitsText("unlimited", "unlimited")), {
    soft: Infinity,
    hard: Infinity,
  });
  assert.deepEqual(parseFdLimits("nothing here"), {});
});

Deno.test("fd limit: a soft limit below the MLLP listeners' caps, HTTP's, the destinations and the margin is warned about, with what to do", () => {
  const needed = 2 * 1000 + MAX_HTTP_CONNECTIONS + 2 + FD_MARGIN;
  const w = fdLimitWarning(config, limitsText("1024", "524288"));
  assert.ok(w);
  assert.equal(w.softLimit, 1024);
  assert.equal(w.hardLimit, 524288);
  assert.equal(w.needed, needed);
  assert.deepEqual(
    { mllp: w.mllp, http: w.http, sftp: w.sftp, destinations: w.destinations, margin: w.margin },
    { mllp: 2000, http: MAX_HTTP_CONNECTIONS, sftp: 0, destinations: 2, margin: FD_MARGIN },
  );
  assert.match(w.advice, /LimitNOFILE=65536/);
  assert.match(w.advice, /ulimit -n 65536/);
  assert.equal(fdLimitWarning(config, limitsText(String(needed), "524288")), undefined);
  assert.equal(fdLimitWarning(config, limitsText("unlimited", "unlimited")), undefined);
  assert.equal(fdLimitWarning(config, "no limits known"), undefined);
});

Deno.test("fd limit: checkFdLimit reads the process's own limits", async () => {
  const text = await Deno.readTextFile("/proc/self/limits").catch(() => undefined);
  const w = await checkFdLimit(config);
  if (text === undefined) return assert.equal(w, undefined);
  const soft = parseFdLimits(text).soft!;
  if (soft >= 2 * 1000 + MAX_HTTP_CONNECTIONS + 2 + FD_MARGIN) assert.equal(w, undefined);
  else assert.equal(w?.softLimit, soft);
  assert.equal(await checkFdLimit(config, "/nonexistent/limits"), undefined);
});

Deno.test({
  name:
    "fd limit: main.ts serve under a soft limit of 512 says engine.fd-limit with what to do, and starts",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "fd-limit-serve-" });
    try {
      const port = 20000 + Math.floor(Math.random() * 20000);
      await Deno.writeTextFile(
        `${dir}/c.json`,
        JSON.stringify({
          node: { id: "fd" },
          kv: { path: `${dir}/engine.kv` },
          http: { port, hostname: "127.0.0.1", development: true },
          environments: [{ id: "dev", type: "development" }],
        }),
      );
      const root = new URL("../../", import.meta.url).pathname;
      const child = new Deno.Command("bash", {
        args: [
          "-c",
          `ulimit -n 512 && exec "${Deno.execPath()}" run -A main.ts serve --config ${dir}/c.json`,
        ],
        cwd: root,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let out = "";
      const decoder = new TextDecoder();
      const read = async (stream: ReadableStream<Uint8Array>) => {
        for await (const chunk of stream) {
          out += decoder.decode(chunk, { stream: true });
          if (out.includes("engine.fd-limit")) break;
        }
      };
      // Said once the engine is up (after engine.allocator); the old engine never says it.
      const done = AbortSignal.timeout(15_000);
      await Promise.race([
        Promise.any([read(child.stdout), read(child.stderr)]),
        new Promise((resolve) => done.addEventListener("abort", resolve)),
      ]);
      child.kill("SIGKILL");
      await child.status;
      assert.match(out, /WARN\s+engine\.fd-limit softLimit=512 /, out);
      assert.match(out, /LimitNOFILE=/, out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
