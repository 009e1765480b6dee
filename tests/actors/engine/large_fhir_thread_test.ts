/**
 * A large FHIR message Bundle posted to `POST /fhir/R4/$process-message` is parsed, counted,
 * validated, converted to the data model and planned on the planning thread
 * (actors/engine/api_large_fhir.ts), and every answer is the one the engine's thread gives. Real
 * engines (compose) with their HTTP servers, real HTTP destinations, KV files; the reference
 * engine is given `planThreads: { offloadBytes: Infinity }` (all on its own thread). With
 * BIG_INLINE=1 the engine of the hold test is given it too, as before the planning thread (that
 * test then fails).
 */

import assert from "node:assert/strict";
import { apiOf } from "../../helpers/api.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";
import { assertHeldBelow, gapMonitor } from "../../helpers/thread_hold.ts";
import { inlineWhenAsked } from "./plan_thread_fixture.ts";
import {
  largeJsonConfig,
  mediaBundle,
  type PostAnswer,
  postFromWorker,
} from "./large_json_fixture.ts";

const ROUTE = "/fhir/R4/$process-message";

function threadStarted(e: TestEngine): boolean {
  return e.log.lines.some((l) => l.includes("engine.plan-thread-started"));
}

async function post(e: TestEngine, token: string, body: string): Promise<PostAnswer> {
  const res = await fetch(`${e.base}${ROUTE}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/fhir+json" },
    body,
  });
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    text: await res.text(),
  };
}

/** Large bundles, each with what it is; over the 32 KiB the planning thread takes. */
function bundles(): [string, string][] {
  const text = (blob: number, change: (b: Record<string, unknown>) => void = () => {}) => {
    const b = mediaBundle(blob);
    change(b);
    return JSON.stringify(b);
  };
  const ok = text(100_000);
  const entries = (b: Record<string, unknown>) => b.entry as Record<string, unknown>[];
  return [
    ["accepted", ok],
    ["not JSON (cut short)", ok.slice(0, -1)],
    [
      "a key named twice",
      ok.replace('"resourceType":"Bundle"', '"resourceType":"Bundle","resourceType":"Bundle"'),
    ],
    ["an attachment over FHIR's 1 MB string", text(1_500_000)],
    [
      "more entries than limits.maxFhirBundleEntries",
      text(100_000, (b) => {
        const patient = entries(b)[1]!;
        for (let i = 0; i < 1_000; i++) entries(b).push(patient);
      }),
    ],
    ["not a message bundle", text(100_000, (b) => b.type = "collection")],
    [
      "a message the data model refuses",
      text(100_000, (b) => {
        for (const e of entries(b)) {
          const r = e.resource as Record<string, unknown>;
          if (r.resourceType === "Patient") delete r.identifier;
        }
      }),
    ],
  ];
}

Deno.test("a large FHIR bundle posted to $process-message gets, from the planning thread, the status and body the engine's thread answers: accepted, invalid JSON, a repeated key, invalid FHIR, too many entries, not a message, refused by the data model", async () => {
  await using dir = await tempDir({ prefix: "large-fhir-" });
  await Deno.mkdir(`${dir.path}/a`);
  await Deno.mkdir(`${dir.path}/b`);
  const hook = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    await req.arrayBuffer();
    return new Response("ok");
  });
  const config = (d: string) => largeJsonConfig(d, hook.addr.port, 10_000_000);
  const offloading = await startEngine(config(`${dir.path}/a`), { http: true });
  const inline = await startEngine(config(`${dir.path}/b`), {
    http: true,
    planThreads: { offloadBytes: Infinity },
  });
  // Message and log ids differ between engines.
  const ids = (text: string) =>
    text.replace(/\\"(ID|AttemptID)\\":\\"[0-9A-Za-z_-]{12,}(-1)?\\"/g, '\\"$1\\":\\"*\\"');
  try {
    const tokens = await Promise.all(
      [offloading, inline].map((e) => apiOf(e).token("clinic", "clinic-secret")),
    );
    const statuses: number[] = [];
    for (const [why, body] of bundles()) {
      assert.ok(body.length > 32 * 1024, why);
      const there = await post(offloading, tokens[0]!, body);
      const here = await post(inline, tokens[1]!, body);
      statuses.push(here.status);
      assert.deepEqual({ ...there, text: ids(there.text) }, { ...here, text: ids(here.text) }, why);
    }
    assert.deepEqual(statuses, [200, 400, 400, 400, 413, 400, 400]);
    assert.ok(threadStarted(offloading), "the planning thread took the bundles");
    assert.ok(!threadStarted(inline));
  } finally {
    await offloading.close();
    await inline.close();
    await hook.shutdown();
  }
});

Deno.test("a 36 MB FHIR bundle posted to $process-message is parsed and validated off the engine's thread: no gap of a 10 ms timer holds the engine's thread 200 ms", async () => {
  await using dir = await tempDir({ prefix: "large-fhir-gap-" });
  const hook = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, () => {
    return new Response("ok");
  });
  const e = await startEngine(largeJsonConfig(dir.path, hook.addr.port, 40_000_000), {
    http: true,
    ...inlineWhenAsked(),
  });
  try {
    const token = await apiOf(e).token("clinic", "clinic-secret");
    // Warm: FHIR's definitions are loaded on the thread by a first, small bundle.
    const warm = await postFromWorker({
      url: `${e.base}${ROUTE}`,
      token,
      blobChars: 40_000,
      fhir: true,
    });
    assert.equal(warm.status, 200, warm.text.slice(0, 300));
    // Each run posts the bundle again: refused, it is not stored, so a re-send is as new.
    // Its own CPU time in one timer gap (a machine busy elsewhere does not count). On the engine's
    // thread (BIG_INLINE=1) the parse held it 260-330 ms at once; off it, 20-90 ms (the socket
    // reads, a garbage collection), once 110 ms on CI's slower machine. 200 ms still fails the
    // parse on the thread (all three runs, 260-270 ms) and leaves a machine twice as slow as this
    // one room; a pause like that 110 ms seldom falls on every run.
    await assertHeldBelow({
      boundMs: 200,
      what: "the engine's thread",
      run: async () => {
        const monitor = gapMonitor();
        const started = performance.now();
        const answer = await postFromWorker({
          url: `${e.base}${ROUTE}`,
          token,
          blobChars: 36_000_000,
          fhir: true,
        });
        const { gap, held } = monitor.stop();
        // FHIR strings are at most 1 MB: the bundle is refused, after its 36 MB were parsed.
        assert.equal(answer.status, 400, answer.text.slice(0, 300));
        assert.match(answer.text, /String cannot be larger than 1 MB/);
        const detail = `answered in ${(performance.now() - started).toFixed(0)} ms; longest ` +
          `timer gap ${gap.toFixed(0)} ms`;
        return { held, detail };
      },
    });
    assert.ok(threadStarted(e));
  } finally {
    await e.close();
    await hook.shutdown();
  }
});
