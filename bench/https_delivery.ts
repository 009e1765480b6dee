/**
 * HTTPS delivery benchmark: messages per second that one HTTPS destination actor delivers (a real
 * `DeliveryActor` with the `HttpsDeliverer` and the `FetchSender`, on a KV file in a temp dir:
 * every success is committed), next to a bare loop that POSTs the same messages with `fetch`, one
 * at a time and without persistence, in the same run. Both go over HTTPS (a test CA made with
 * openssl) to the same bare Hono handler on `Deno.serve` that only answers `200`.
 * Target: engine ≥ 40 % of the bare loop.
 *
 * Run: `deno run -A bench/https_delivery.ts [messages=3000]`. Takes about 15-40 s. Everything
 * binds and connects to 127.0.0.1 only. Prints a table, then one JSON line.
 *
 * @module
 */

import { Hono } from "hono";
import { parseConfig } from "../actors/config/mod.ts";
import { DeliveryActor } from "../actors/delivery/delivery_actor.ts";
import { HttpsDestinations } from "../actors/https_out/mod.ts";
import { systemClock } from "../actors/runtime/clock.ts";
import { Store } from "../actors/store/mod.ts";
import { FetchSender } from "../transports/https/fetch_sender.ts";
import { makePki } from "../tests/helpers/tls.ts";
import { benchLogger, printJson, printLine, printTable, waitUntil } from "./harness.ts";

const N = Number(Deno.args[0] ?? 3000);
const HOST = "127.0.0.1";
const encoder = new TextEncoder();

// Hard stop: the script must end on its own even if something hangs.
const guard = setTimeout(() => {
  printLine("https_delivery: timed out after 90 s");
  Deno.exit(2);
}, 90_000);
Deno.unrefTimer(guard);

/** A data-model-like JSON message of about 1 KiB. */
function message(i: number): string {
  return JSON.stringify({
    Meta: {
      DataModel: "PatientAdmin",
      EventType: "Arrival",
      EventDateTime: new Date(Date.UTC(2026, 0, 1, 8, 0, i % 60)).toISOString(),
      Source: { ID: "bench-source", Name: "Bench" },
      Destinations: [{ ID: "bench", Name: "Bench receiver" }],
    },
    Patient: {
      Identifiers: [{ ID: `MRN${100000 + i}`, IDType: "MR" }],
      Demographics: {
        FirstName: "Jane",
        LastName: `Doe-${i}`,
        DOB: "1980-01-01",
        Sex: "Female",
        Address: { StreetAddress: "1 Main St", City: "Madison", State: "WI", ZIP: "53703" },
        PhoneNumber: { Home: "+1 608 555 0100" },
      },
      Notes: ["x".repeat(400)],
    },
    Visit: { VisitNumber: `V${i}`, Location: { Department: "4WEST", Room: "412", Bed: "B" } },
  });
}

/** The bare loop: fetch, one request at a time, same client setup, no persistence. */
async function bareRate(url: string, caCert: string, bodies: readonly string[]): Promise<number> {
  const client = Deno.createHttpClient({ caCerts: [caCert] });
  try {
    const t0 = performance.now();
    for (const body of bodies) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        client,
      });
      await res.body?.cancel();
      if (res.status !== 200) throw new Error(`bare: HTTP ${res.status}`);
    }
    return bodies.length * 1000 / (performance.now() - t0);
  } finally {
    client.close();
  }
}

interface EngineResult {
  msgPerS: number;
  durableMsgPerS: number;
}

/** N messages queued durably, then one HTTPS destination actor delivers them. */
async function engineRate(
  url: string,
  caCert: string,
  bodies: readonly string[],
  received: () => number,
): Promise<EngineResult> {
  const dir = await Deno.makeTempDir({ prefix: "bench-https-" });
  const store = await Store.open({ path: `${dir}/engine.kv`, node: "bench" });
  const sender = new FetchSender({ caCerts: [caCert] });
  try {
    const parsed = parseConfig({
      environments: [{ id: "dev", type: "development" }],
      destinations: [{
        id: "bench",
        environment: "dev",
        https: { url, verificationToken: { env: "BENCH_TOKEN" } },
      }],
    }, {
      env: (name) => (name === "BENCH_TOKEN" ? "bench-verification-token" : undefined),
      readFile: () => new Error("no files in the bench"),
    });
    if (!parsed.ok) throw new Error(`bench config: ${JSON.stringify(parsed.problems)}`);
    const queue = "https:bench";
    for (let i = 0; i < bodies.length; i += 500) {
      await Promise.all(
        bodies.slice(i, i + 500).map((body) =>
          store.accept({
            queue,
            origin: { kind: "engine", id: "bench" },
            payload: encoder.encode(body),
            contentType: "application/json",
            log: { type: "SEND", sourceId: "bench", environment: "dev" },
          })
        ),
      );
    }
    const log = benchLogger();
    const destinations = new HttpsDestinations({
      config: parsed.config,
      records: store.verifications,
      sender,
      clock: systemClock,
      log,
    });
    const deliverer = destinations.deliverer("bench")!;
    const actor = new DeliveryActor({
      id: queue,
      kind: "https",
      store,
      deliverer,
      clock: systemClock,
      log,
    });
    const start = received();
    const abort = new AbortController();
    const t0 = performance.now();
    const running = actor.run(abort.signal);
    let t1 = 0, t2 = 0;
    try {
      await waitUntil("every message to arrive", () => received() - start >= bodies.length, 60_000);
      t1 = performance.now();
      await waitUntil("every delivery to complete", () => log.succeeded >= bodies.length, 10_000);
      t2 = performance.now();
    } finally {
      abort.abort();
      await running;
    }
    if (log.problems > 0) printLine(`  ${log.problems} warnings or errors from the engine`);
    return {
      msgPerS: bodies.length * 1000 / (t1 - t0),
      durableMsgPerS: bodies.length * 1000 / (t2 - t0),
    };
  } finally {
    sender.close();
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });
let count = 0;
const app = new Hono();
app.post("/hook", (c) => {
  count++;
  return c.body(null, 200);
});
const server = Deno.serve({
  hostname: HOST,
  port: 0,
  cert: pki.serverCert,
  key: pki.serverKey,
  onListen: () => {},
}, app.fetch);
const url = `https://${HOST}:${server.addr.port}/hook`;
const bodies = Array.from({ length: N }, (_, i) => message(i));

printLine(
  `https_delivery: ${N} JSON messages of ~${encoder.encode(bodies[0]!).length} bytes over HTTPS`,
);
const bare: number[] = [];
const engine: EngineResult[] = [];
try {
  await bareRate(url, pki.caCert, bodies.slice(0, 300)); // warm-up
  // Alternated, best of each: the machine is shared and one round can be unlucky.
  for (let round = 0; round < 3; round++) {
    bare.push(await bareRate(url, pki.caCert, bodies));
    engine.push(await engineRate(url, pki.caCert, bodies, () => count));
  }
  bare.push(await bareRate(url, pki.caCert, bodies));
} finally {
  await server.shutdown();
}
const bareMsgPerS = Math.max(...bare);
const best = engine.reduce((a, b) => (b.msgPerS > a.msgPerS ? b : a));
const ratio = best.msgPerS / bareMsgPerS;
printTable(["one HTTPS destination", "msg/s"], [
  ["bare fetch loop -> bare Hono 200 (best of 4)", Math.round(bareMsgPerS)],
  ["engine: queued -> delivered (receiver count, best of 3)", Math.round(best.msgPerS)],
  ["engine: queued -> completed in KV", Math.round(best.durableMsgPerS)],
]);
printLine(`engine / bare = ${(ratio * 100).toFixed(1)} % (target >= 40 %)`);
printJson({
  bench: "https_delivery",
  messages: N,
  bareMsgPerS: Math.round(bareMsgPerS),
  bareRounds: bare.map(Math.round),
  engineMsgPerS: Math.round(best.msgPerS),
  engineDurableMsgPerS: Math.round(best.durableMsgPerS),
  engineRounds: engine.map((e) => Math.round(e.msgPerS)),
  ratio: Number(ratio.toFixed(3)),
  target: 0.4,
});
