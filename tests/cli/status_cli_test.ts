/**
 * `main.ts status` and `main.ts actor` as an operator on call runs them, against a real engine
 * over real HTTP: a destination whose peer refuses connections (its actor backs off), another one
 * paused, a skipped head in the dead letters, a healthy engine, a URL nobody listens on and a
 * wrong token. The commands run as child processes; the engine runs in the test.
 */

import assert from "node:assert/strict";
import { configFrom, startEngine, type TestEngine } from "../helpers/engine.ts";
import { adt, freePort, startRecordingHl7Server, waitFor } from "../helpers/net.ts";
import { type MainRun, runMain as runMainWith } from "../helpers/run_main.ts";
import { tempDir } from "../helpers/temp.ts";
import { sendFiles } from "../../transports/mllp/send.ts";

/**
 * `main.ts args…` with `ENGINE_ADMIN_TOKEN` set to `token` (empty by default: an inherited one
 * would win over `--token-file`).
 */
function runMain(args: string[], token = ""): Promise<MainRun> {
  return runMainWith(args, { ENGINE_ADMIN_TOKEN: token });
}

/** A config: one MLLP integration routed to every destination of `destinations`. */
function config(dir: string, destinations: Record<string, number>): Record<string, unknown> {
  const ids = Object.keys(destinations);
  return {
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    http: { port: 0, hostname: "127.0.0.1", development: true },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      timeZone: "UTC",
      mllp: { port: 0, allowedIps: ["127.0.0.0/8"] },
    }],
    destinations: ids.map((id) => ({
      id,
      environment: "dev",
      mllp: { host: "127.0.0.1", port: destinations[id] },
    })),
    subscriptions: [{ id: "all", from: { integration: "feed" }, to: ids }],
  };
}

/** Sends one ADT to the engine's MLLP integration and checks it was accepted. */
async function sendOne(e: TestEngine, dir: string, controlId: string): Promise<void> {
  const file = `${dir}/${controlId}.hl7`;
  await Deno.writeTextFile(file, adt(controlId) + "\r");
  const [result] = await sendFiles({ host: "127.0.0.1", port: e.mllpPort, files: [file] });
  assert.equal(result?.code, "AA");
}

/** `GET /admin/actors/:id` as JSON. */
async function actor(e: TestEngine, token: string, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${e.base}/admin/actors/${id}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return res.status === 200 ? await res.json() : (await res.body?.cancel(), {});
}

Deno.test("status names each stuck destination with its error, pause and dead letters; exit 1", async () => {
  await using dir = await tempDir();
  const refused = freePort();
  const paused = freePort();
  const e = await startEngine(
    configFrom({
      ...config(dir.path, { lab: refused, billing: paused }),
      // An alert on a stalled actor, evaluated every second, so status has one to list.
      alerts: {
        evaluateEverySeconds: 1,
        rules: [{ id: "stalled", kind: "actor-stalled", forSeconds: 1 }],
      },
    }),
    { http: true },
  );
  try {
    const tokenFile = `${dir.path}/admin.token`;
    const token = (await Deno.readTextFile(tokenFile)).trim();
    const lab = `mllp-out:127.0.0.1:${refused}`;
    const billing = `mllp-out:127.0.0.1:${paused}`;
    await sendOne(e, dir.path, "STUCK1");
    await waitFor("both actors to have failed once", async () => {
      const [a, b] = [await actor(e, token, lab), await actor(e, token, billing)];
      return a.state === "backoff" && b.state === "backoff";
    });

    await waitFor("the stalled alert on lab", async () => {
      const res = await fetch(`${e.base}/admin/alerts`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const firing = (await res.json()).firing as { subject: string }[];
      return firing.some((f) => f.subject === lab);
    });
    // The operator pauses billing through the CLI; a peer's terminal escape in the reason.
    const pause = await runMain([
      "actor",
      e.base,
      billing,
      "pause",
      "--reason",
      "peer down\x1b[31m until 08:00",
      "--token-file",
      tokenFile,
    ]);
    assert.equal(pause.code, 0, pause.stderr);
    assert.match(pause.stdout, new RegExp(`^${billing} pause: paused`));

    const run = await runMain(["status", e.base, "--token-file", tokenFile]);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const text = run.stdout;
    assert.ok(!text.includes("\x1b"), "no raw escape reaches the terminal");
    // The refused peer: its destination, state, since, waiting, error, next retry, commands.
    const labBlock = block(text, lab);
    // Between two attempts, or (rarely) caught in one: both say it is stuck.
    const between = /backing off/.test(labBlock);
    assert.match(labBlock, /backing off|retrying a head that failed \d+ time/);
    assert.match(labBlock, new RegExp(`delivers to: +lab \\(mllp://127\\.0\\.0\\.1:${refused}\\)`));
    assert.match(
      labBlock,
      /state: +(backoff|connecting|sending) since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/,
    );
    assert.match(labBlock, /waiting: +1 message\(s\), oldest \d+ s old/);
    assert.match(labBlock, /last error: +connect to 127\.0\.0\.1:\d+ failed: Connection refused/);
    if (between) assert.match(labBlock, /next retry: +\d{4}-\d\d-\d\dT[\d:.]+Z/);
    assert.match(labBlock, new RegExp(`main\\.ts actor ${e.base} ${lab} retry --reason`));
    assert.ok(!labBlock.includes(token), "the token is never printed");
    // The paused one: who, when and why, escaped.
    const billingBlock = block(text, billing);
    assert.match(billingBlock, /: paus/);
    assert.match(billingBlock, /state: +\S+ since [\d-]+T[\d:.]+Z \(paused\)/);
    assert.match(billingBlock, /delivers to: +billing/);
    assert.match(
      billingBlock,
      /paused by: +cli: peer down\\x1b\[31m until 08:00/,
    );
    assert.match(billingBlock, new RegExp(`${billing} resume --reason`));
    assert.match(
      text,
      new RegExp(
        `alerts firing \\(\\d\\):\\n(  .*\\n)*  stalled \\(actor-stalled\\) ${lab} since \\d{4}-[\\d-]+T[\\d:.]+Z: actor ${lab}`,
      ),
    );
    assert.match(
      text,
      /\n2 of 2 actors stuck \(1 paused, 1 (backing off|retrying)\); 2 message\(s\) waiting; [12] alert\(s\) firing; health ok/,
    );

    // --json: the same facts for scripts.
    const json = await runMain(["status", e.base, "--token-file", tokenFile, "--json"]);
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout);
    const labJson = report.actors.find((a: { id: string }) => a.id === lab);
    assert.equal(labJson.stuck, true);
    assert.deepEqual(labJson.destinations, [{ id: "lab", url: `mllp://127.0.0.1:${refused}` }]);
    assert.match(labJson.lastError, /Connection refused/);
    assert.equal(labJson.queueDepth, 1);
    assert.equal(report.stuck, 2);

    // The lab head skipped: the actor is idle and empty, its dead letter still says stuck.
    const noReason = await runMain(["actor", e.base, lab, "skip", "--token-file", tokenFile]);
    assert.equal(noReason.code, 64); // EX_USAGE: 2 says the engine could not be asked
    assert.match(noReason.stderr, /skip needs --reason/);
    const skip = await runMain([
      "actor",
      e.base,
      lab,
      "skip",
      "--reason",
      "lab rebuilds it",
      "--token-file",
      tokenFile,
    ]);
    assert.equal(skip.code, 0, skip.stderr);
    await waitFor("the lab queue to be empty", async () => {
      return (await actor(e, token, lab)).queueDepth === 0;
    });
    const after = await runMain(["status", e.base, "--token-file", tokenFile]);
    assert.equal(after.code, 1);
    assert.match(block(after.stdout, lab), /1 dead letter\(s\)/);
    // A command the engine refuses: exit 1 with its reason.
    const unknown = await runMain(["actor", e.base, "nope", "retry", "--token-file", tokenFile]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nope retry not found: no actor nope/);

    // A wrong token: exit 2 naming the 401, and nothing about actors.
    await Deno.writeTextFile(`${dir.path}/wrong.token`, "not-the-token\n");
    const wrong = await runMain(["status", e.base, "--token-file", `${dir.path}/wrong.token`]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /refused the admin token \(401 unauthorized\)/);
    assert.equal(wrong.stdout, "");
  } finally {
    await e.close();
  }
});

Deno.test("status exits 0 when nothing is stuck, and --all lists the healthy actors", async () => {
  await using dir = await tempDir();
  const peer = await startRecordingHl7Server();
  const e = await startEngine(configFrom(config(dir.path, { ehr: peer.port })), { http: true });
  try {
    const tokenFile = `${dir.path}/admin.token`;
    await sendOne(e, dir.path, "FINE1");
    await waitFor("the delivery", () => peer.received.length === 1);
    const token = (await Deno.readTextFile(tokenFile)).trim();
    const id = `mllp-out:127.0.0.1:${peer.port}`;
    await waitFor(
      "the queue to be empty",
      async () => (await actor(e, token, id)).queueDepth === 0,
    );
    const run = await runMain(["status", e.base, "--token-file", tokenFile, "--all"]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(!run.stdout.includes("STUCK"), run.stdout);
    assert.match(run.stdout, new RegExp(`ok +${id} → ehr: \\w[\\w-]*, 0 waiting`));
    assert.match(
      run.stdout,
      /\nnothing stuck: \d+ actors; 0 message\(s\) waiting; 0 alert\(s\) firing; health ok/,
    );
    // The token from the environment: the file is not read, and no --token-file is printed.
    const fromEnv = await runMain(
      ["status", e.base, "--token-file", `${dir.path}/missing`, "--json"],
      token,
    );
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(JSON.parse(fromEnv.stdout).stuck, 0);
  } finally {
    await e.close();
    await peer.server.stop();
  }
});

Deno.test("status exits 2 naming why when nothing answers at the URL", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/admin.token`, "some-token\n");
  const url = `http://127.0.0.1:${freePort()}`;
  const run = await runMain(["status", url, "--token-file", `${dir.path}/admin.token`]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, new RegExp(`cannot reach the engine at ${url}: connection refused`));
  assert.ok(!run.stderr.includes("some-token"));
  const noToken = await runMain(["status", url, "--token-file", `${dir.path}/missing`]);
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /cannot read the admin token from .*missing/);
});

/** The block of `status`'s text about actor `id` (from its STUCK line to the next blank line). */
function block(text: string, id: string): string {
  const start = text.indexOf(`STUCK ${id}:`);
  assert.ok(start >= 0, `no block for ${id} in:\n${text}`);
  const end = text.indexOf("\n\n", start);
  return text.slice(start, end < 0 ? undefined : end);
}
