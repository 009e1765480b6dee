/** @jsxImportSource hono/jsx */
/**
 * `/console/metrics`: messages per minute in (per integration or source) and out (per
 * destination) over the last hour or day, failure rate, and queue depths, drawn with uPlot from
 * `/console/metrics/data.json` and redrawn on every change the event stream reports.
 * @module
 */

import type { Hono } from "hono";
import type { ConsoleDeps, ConsoleEnv } from "./context.ts";
import { Page } from "./layout.tsx";
import { recentLogs } from "./tally.ts";

/** Logs read at most for one chart set. */
const BUDGET = 20_000;
/** Queue-depth samples kept (one per data request at most every 10 s). */
const MAX_SAMPLES = 360;
/**
 * How long one range's chart data is served again: every open metrics page refetches on each
 * change the event stream reports (up to once a second), and a day's scan costs ~100 ms at a
 * million logs (bench/console.ts), so viewers share one scan per range and period.
 */
const DATA_TTL_MS = 5_000;

/** One chart's series. */
interface Chart {
  title: string;
  series: { label: string; values: number[] }[];
}

/** What `/console/metrics/data.json` answers. */
interface ChartData {
  times: number[];
  charts: Chart[];
  /** The scan stopped at its bound: the older buckets count only part of the logs. */
  truncated: boolean;
}

/** Adds the metrics page and its data. */
export function metricsRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  const depthSamples: { at: number; depths: Record<string, number> }[] = [];

  app.get("/console/metrics", (c) => {
    const range = c.req.query("range") === "day" ? "day" : "hour";
    return c.html(
      <Page title="Metrics" active="/console/metrics" session={c.var.session} charts>
        <h1>Metrics</h1>
        <p>
          <a
            href="/console/metrics?range=hour"
            aria-current={range === "hour" ? "page" : undefined}
          >
            last hour
          </a>{" "}
          · <a href="/console/metrics?range=day">last day</a>
        </p>
        <div id="charts" data-range={range}></div>
      </Page>,
    );
  });

  const cached = new Map<string, { at: number; data: Promise<ChartData> }>();
  app.get("/console/metrics/data.json", async (c) => {
    const day = c.req.query("range") === "day";
    const now = deps.now();
    const key = day ? "day" : "hour";
    let hit = cached.get(key);
    if (!hit || now - hit.at >= DATA_TTL_MS || now < hit.at) {
      hit = { at: now, data: chartData(day, now) };
      cached.set(key, hit);
      hit.data.catch(() => cached.delete(key));
    }
    return c.json(await hit.data, 200, { "Cache-Control": "no-store" });
  });

  async function chartData(day: boolean, now: number): Promise<ChartData> {
    const bucketMs = day ? 15 * 60_000 : 60_000;
    const buckets = day ? 96 : 60;
    const start = Math.floor(now / bucketMs) * bucketMs - (buckets - 1) * bucketMs;
    const perMinute = bucketMs / 60_000;
    const series = new Map<string, number[]>();
    const add = (key: string, t: number) => {
      const i = Math.floor((t - start) / bucketMs);
      if (i < 0 || i >= buckets) return;
      let s = series.get(key);
      if (!s) series.set(key, s = new Array(buckets).fill(0));
      s[i]! += 1 / perMinute;
    };
    const logs = recentLogs(deps.store, start, BUDGET);
    let r = await logs.next();
    while (!r.done) {
      const l = r.value;
      if (l.type === "RECEIVE" || l.type === "REQUEST") {
        add(`in:${l.integrationId ?? l.sourceId ?? "?"}`, l.createdAt);
      } else if (l.type === "SEND" && l.destinationId) {
        add(`out:${l.destinationId}`, l.createdAt);
      }
      if (l.status === "FAILED") {
        add(`failed:${l.destinationId ?? l.integrationId ?? "?"}`, l.createdAt);
      }
      r = await logs.next();
    }
    const last = depthSamples[depthSamples.length - 1];
    if (!last || now - last.at >= 10_000) {
      const depths: Record<string, number> = {};
      for (const s of await deps.supervisor.statuses()) depths[s.id] = s.queueDepth;
      depthSamples.push({ at: now, depths });
      if (depthSamples.length > MAX_SAMPLES) depthSamples.shift();
    }
    const pick = (prefix: string) =>
      [...series].filter(([k]) => k.startsWith(prefix)).map(([k, values]) => ({
        label: k.slice(prefix.length),
        values: values.map((v) => Math.round(v * 100) / 100),
      }));
    const times = Array.from({ length: buckets }, (_, i) => (start + i * bucketMs) / 1000);
    // Queue depths: the latest sample in each bucket (sampled while someone watches).
    const actors = new Set(depthSamples.flatMap((s) => Object.keys(s.depths)));
    const depthSeries = [...actors].map((a) => {
      const values = new Array(buckets).fill(null);
      for (const s of depthSamples) {
        const i = Math.floor((s.at - start) / bucketMs);
        if (i >= 0 && i < buckets) values[i] = s.depths[a] ?? 0;
      }
      return { label: a, values };
    });
    const charts: Chart[] = [
      { title: "In, messages per minute", series: pick("in:") },
      { title: "Out, messages per minute", series: pick("out:") },
      { title: "Failures per minute", series: pick("failed:") },
      { title: "Queue depths", series: depthSeries },
    ];
    return { times, charts, truncated: r.value };
  }
}
