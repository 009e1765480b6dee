/**
 * `/metrics` after real traffic (MLLP in, MLLP out to a @medplum/hl7 server), parsed the way
 * prom2json does: every family has HELP and TYPE, counters end in `_total`, histograms have
 * cumulative buckets with `+Inf` equal to `_count`, and the series carry the integration,
 * destination and environment labels.
 */

import assert from "node:assert/strict";
import { Hl7Message } from "@medplum/core";
import { Hl7Client, Hl7Server } from "@medplum/hl7";
import { parseConfig } from "../../actors/config/mod.ts";
import { startEngine } from "../helpers/engine.ts";
import { adt, startHl7Server, waitFor } from "../helpers/net.ts";
import { tempDir } from "../helpers/temp.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

/** A strict parse of the text format (0.0.4): fails on any line it does not understand. */
function parseProm(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# HELP ([a-zA-Z_:][\w:]*) (.*)$/.exec(line);
    if (m) {
      current = { type: "untyped", help: m[2]!, samples: [] };
      families.set(m[1]!, current);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][\w:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      current = families.get(m[1]!) ?? { type: m[2]!, help: "", samples: [] };
      current.type = m[2]!;
      families.set(m[1]!, current);
      continue;
    }
    m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (-?[\d.e+-]+|NaN|\+Inf)$/.exec(line);
    assert.ok(m, `unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    assert.ok(current, `sample before any TYPE: ${line}`);
    current.samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return families;
}

Deno.test("/metrics: labelled counters and histograms after traffic, in Prometheus format", async () => {
  await using dir = await tempDir({ prefix: "metrics-" });
  const received: string[] = [];
  const ehr = new Hl7Server((conn) => {
    conn.addEventListener("message", ({ message }) => {
      received.push(message.getSegment("MSH")?.getField(10)?.toString() ?? "");
      conn.send(message.buildAck());
    });
  });
  const ehrPort = await startHl7Server(ehr);
  const parsed = parseConfig({
    kv: { path: `${dir.path}/engine.kv` },
    admin: { token: { env: "T" } },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{
      id: "feed",
      environment: "dev",
      mllp: { port: 0, allowedIps: ["127.0.0.1"] },
    }],
    destinations: [{ id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: ehrPort } }],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr"] }],
  }, { env: () => "metrics-admin-token", readFile: () => new Error("-") });
  assert.ok(parsed.ok);
  const e = await startEngine(parsed.config, { http: true });
  const client = new Hl7Client({ host: "127.0.0.1", port: e.mllpPort });
  try {
    for (const id of ["M1", "M2"]) await client.sendAndWait(Hl7Message.parse(adt(id)));
    await waitFor("two deliveries", () => received.length === 2);
    await waitFor("delivered counted", async () => {
      const text = await (await fetch(`${e.base}/metrics`)).text();
      return /engine_messages_delivered_total\{[^}]*\} 2/.test(text);
    });
    await (await fetch(`${e.base}/healthz`)).body?.cancel();
    const res = await fetch(`${e.base}/metrics`);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const families = parseProm(await res.text());

    for (const [name, f] of families) {
      assert.ok(f.help, `${name} has HELP`);
      if (f.type === "counter") assert.match(name, /_total$/, `counter ${name} ends in _total`);
      if (f.type === "histogram") assert.match(name, /_seconds$/, `histogram ${name} in seconds`);
    }
    const one = (name: string, labels: Record<string, string>, family = name) => {
      const f = families.get(family);
      assert.ok(f, `family ${name}`);
      const s = f.samples.find((x) =>
        x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v)
      );
      assert.ok(s, `${name} ${JSON.stringify(labels)}`);
      return s;
    };
    const feed = { integration: "feed", environment: "dev" };
    const dest = { destination: "ehr", environment: "dev" };
    assert.equal(families.get("engine_messages_received_total")!.type, "counter");
    assert.equal(one("engine_messages_received_total", feed).value, 2);
    assert.equal(one("engine_messages_routed_total", dest).value, 2);
    assert.equal(one("engine_messages_delivered_total", dest).value, 2);
    assert.equal(one("engine_delivery_attempts_total", { ...dest, outcome: "success" }).value, 2);
    assert.equal(one("engine_ack_codes_total", { ...dest, code: "AA" }).value, 2);

    for (const h of ["engine_end_to_end_latency_seconds", "engine_delivery_latency_seconds"]) {
      const f = families.get(h)!;
      assert.equal(f.type, "histogram");
      const buckets = f.samples.filter((s) =>
        s.name === `${h}_bucket` && s.labels.destination === "ehr"
      );
      const values = buckets.map((b) => b.value);
      assert.deepEqual(values, [...values].sort((a, b) => a - b), "cumulative buckets");
      assert.equal(buckets.at(-1)!.labels.le, "+Inf");
      assert.equal(buckets.at(-1)!.value, one(`${h}_count`, dest, h).value);
      assert.equal(one(`${h}_count`, dest, h).value, 2);
    }
    assert.equal(families.get("engine_kv_accept_commit_seconds")!.type, "histogram");
    // Every group commit is timed: at least the accepts' commits, each well under a minute.
    assert.equal(families.get("engine_kv_commit_seconds")!.type, "histogram");
    const commits = one("engine_kv_commit_seconds_count", {}, "engine_kv_commit_seconds").value;
    assert.ok(
      commits >= 1 && commits <= one("engine_kv_commits_total", {}).value + 1,
      `${commits}`,
    );
    const sum = one("engine_kv_commit_seconds_sum", {}, "engine_kv_commit_seconds").value;
    assert.ok(sum > 0 && sum < commits * 60, `${sum}`);
    assert.equal(families.get("engine_queue_oldest_age_seconds")!.type, "gauge");
    assert.equal(families.get("engine_event_loop_lag_seconds")!.type, "gauge");
    assert.ok(one("engine_process_resident_memory_bytes", {}).value > 0);
    assert.equal(one("engine_build_info", {}).value, 1);
    assert.ok(one("engine_build_info", {}).labels.version);
    assert.ok(
      one("engine_http_requests_total", { route: "/healthz", method: "GET", status: "200" })
        .value >= 1,
    );
    assert.equal(families.get("engine_queue_depth")!.type, "gauge");
  } finally {
    client.close();
    await e.close();
    await ehr.stop();
  }
});
