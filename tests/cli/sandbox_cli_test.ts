/**
 * The development sandbox from the command line, as a newcomer uses it: `main.ts serve` with a
 * sandbox config in one child process, `main.ts simulate` in another (with the permissions of
 * `deno task start` / `deno task simulate`), and what came back read from `GET /admin/sandbox`.
 */

import assert from "node:assert/strict";
import { EVENTS } from "../../codecs/datamodel/mod.ts";
import { freePort, waitFor } from "../helpers/net.ts";
import { tempDir } from "../helpers/temp.ts";

const root = new URL("../../", import.meta.url).pathname;
const SERVE_PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];
const SIMULATE_PERMISSIONS = ["--allow-net", "--allow-read", "--allow-env"];
// An inherited admin token would win over --token-file: the engine's own file is what is tested.
const ENV = { NO_COLOR: "1", ENGINE_ADMIN_TOKEN: "" };

/** A `serve` child process, its stderr (the log) collected as it comes. */
interface Engine {
  readonly url: string;
  readonly tokenFile: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts `main.ts serve` on a config in `dir` whose ports are all chosen ahead (freePort): the
 * config names them before anything binds them. A port another test took meanwhile makes the
 * child exit at once; it is started again on new ports, at most three times.
 */
async function startEngine(dir: string): Promise<Engine> {
  for (let attempt = 1;; attempt++) {
    const http = freePort();
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({
        kv: { path: `${dir}/engine.kv` },
        http: { port: http, hostname: "127.0.0.1", development: true },
        sandbox: {
          feedPort: freePort(),
          echoReturnPort: freePort(),
          ehrPort: freePort(),
          echoPort: freePort(),
          registrySize: 60,
        },
      }),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...SERVE_PERMISSIONS, "main.ts", "serve", "--config", `${dir}/config.json`],
      cwd: root,
      env: ENV,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let text = "";
    const pump = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of child.stderr) text += dec.decode(chunk, { stream: true });
    })();
    let exited: Deno.CommandStatus | undefined;
    const status = child.status.then((s) => (exited = s));
    await waitFor(
      "the engine to listen",
      () => exited !== undefined || (/sandbox\.started/.test(text) && /http\.listening/.test(text)),
      20_000,
    ).catch(async (error) => {
      child.kill("SIGKILL");
      await Promise.all([status, pump]);
      throw new Error(`${error.message}; its log:\n${text}`);
    });
    if (exited === undefined) {
      return {
        url: `http://127.0.0.1:${http}`,
        tokenFile: `${dir}/admin.token`,
        log: () => text,
        async stop() {
          child.kill("SIGTERM");
          const s = await status;
          await pump;
          assert.equal(s.code, 0, `serve exited ${s.code}; its log:\n${text}`);
        },
      };
    }
    await pump;
    if (attempt >= 3 || !/in use/i.test(text)) {
      throw new Error(`serve exited ${exited.code}; its log:\n${text}`);
    }
  }
}

/** Runs `main.ts simulate …` to the end. */
async function simulate(engine: Engine, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...SIMULATE_PERMISSIONS,
      "main.ts",
      "simulate",
      "--url",
      engine.url,
      "--token-file",
      engine.tokenFile,
      ...args,
    ],
    cwd: root,
    env: ENV,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `GET /admin/sandbox`'s counts: by outcome, and by `outcome label`. */
async function sandboxCounts(engine: Engine): Promise<Record<string, number>> {
  const token = (await Deno.readTextFile(engine.tokenFile)).trim();
  const res = await fetch(`${engine.url}/admin/sandbox`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 200);
  return (await res.json()).counts;
}

/**
 * What the simulated EHR accepted, per `via data-model.event`: an MLLP receipt's label is
 * `ADT^A01 PatientAdmin.Arrival`, a JSON one's `PatientAdmin.Arrival`.
 */
function acceptedByRoute(counts: Record<string, number>): Map<string, number> {
  const routes = new Map<string, number>();
  for (const [key, n] of Object.entries(counts)) {
    const m = /^accepted (?:(\S+\^\S+) )?(\S+\.\S+)$/.exec(key);
    if (!m) continue;
    const route = `${m[1] ? "mllp" : "https"} ${m[2]}`;
    routes.set(route, (routes.get(route) ?? 0) + n);
  }
  return routes;
}

/** Every supported event, `times` times, both ways back: once over MLLP, once as JSON. */
function expectedRoutes(times: number): Map<string, number> {
  const routes = new Map<string, number>();
  for (const e of EVENTS) {
    for (const via of ["mllp", "https"]) {
      const route = `${via} ${e.dataModel}.${e.eventType}`;
      routes.set(route, (routes.get(route) ?? 0) + times);
    }
  }
  return routes;
}

const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => a.localeCompare(b));

Deno.test("serve with a sandbox config and simulate --event all, as child processes: every event of every data model goes out (HL7 v2 and JSON) and comes back over MLLP and as JSON; a bad event or count is refused with a reason", async () => {
  await using dir = await tempDir({ prefix: "sandbox-cli-" });
  const engine = await startEngine(dir.path);
  try {
    const n = EVENTS.length;
    // HL7 v2 over MLLP into integration sandbox-ehr.
    const hl7 = await simulate(engine, ["--event", "all", "--count", String(n)]);
    assert.equal(hl7.code, 0, hl7.stdout + hl7.stderr);
    assert.match(
      hl7.stdout,
      new RegExp(`^sent ${n} \\(${n} generated\\): ${n} accepted, 0 refused`),
    );
    assert.match(hl7.stdout, /\n {2}ADT\^A01 1\n/);
    // Each comes back twice, through the echo: as HL7 v2 over MLLP and as JSON over HTTP.
    await waitFor("the HL7 v2 round trips", async () => {
      return ((await sandboxCounts(engine)).accepted ?? 0) >= 2 * n;
    }, 30_000);
    let counts = await sandboxCounts(engine);
    assert.equal(counts.rejected ?? 0, 0, JSON.stringify(counts));
    assert.deepEqual(sorted(acceptedByRoute(counts)), sorted(expectedRoutes(1)));

    // Data-model JSON to POST /endpoint as API source sandbox-ehr-api, with nothing configured.
    const json = await simulate(engine, [
      "--event",
      "all",
      "--count",
      String(n),
      "--format",
      "json",
    ]);
    assert.equal(json.code, 0, json.stdout + json.stderr);
    assert.match(
      json.stdout,
      new RegExp(`^sent ${n} \\(${n} generated\\): ${n} accepted, 0 refused`),
    );
    await waitFor("the JSON round trips", async () => {
      return ((await sandboxCounts(engine)).accepted ?? 0) >= 4 * n;
    }, 30_000);
    counts = await sandboxCounts(engine);
    assert.equal(counts.rejected ?? 0, 0, JSON.stringify(counts));
    assert.deepEqual(sorted(acceptedByRoute(counts)), sorted(expectedRoutes(2)));

    // A mistake is named, with a non-zero exit, and nothing is sent.
    const bad = await simulate(engine, ["--event", "NOPE^Z99"]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /^simulate: event: "NOPE\^Z99" names no supported event/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
    const count = await simulate(engine, ["--event", "all", "--count", "many"]);
    // EX_USAGE: 2 says the engine could not be asked.
    assert.equal(count.code, 64, count.stdout + count.stderr);
    assert.match(count.stderr, /^simulate: --count must be a whole number of at least 1/);
  } finally {
    await engine.stop();
  }
});

Deno.test("simulate names an engine it cannot reach", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sandbox-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/admin.token`, "t0ken\n");
    // Nothing listens there: the port was free a moment ago and nothing here binds it.
    const nowhere = { url: `http://127.0.0.1:${freePort()}`, tokenFile: `${dir}/admin.token` };
    const r = await simulate(nowhere as Engine, ["--event", "ADT^A01"]);
    // As `status` and `actor` say it, with their exit code.
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^simulate: cannot reach the engine at http:\/\/127\.0\.0\.1:\d+: connection refused \(is the engine running, with HTTP on this port\?\)\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
