/**
 * HTTPS answers on one keep-alive HTTP/1.1 TLS connection through the public server (`servePublic`,
 * `node:https`): median time of sequential POSTs answered by `sendJson` (known length: the bridge
 * writes headers and body in one write) and by Hono's `c.json` (no length given: the bridge streams
 * it, chunked), for answers of several sizes. Under `Deno.serve` (no longer used) a known-length
 * answer from about 300–400 bytes waited ~40 ms for the client's delayed ACK (Nagle's algorithm);
 * a column near 40 ms here means that stall is back.
 *
 * Run: `deno run -A bench/https_respond.ts`.
 * @module
 */

import { Hono } from "hono";
import { Secret } from "../actors/config/secret.ts";
import { memoryLogger } from "../actors/runtime/log.ts";
import { sendJson } from "../transports/http/respond.ts";
import { servePublic } from "../transports/http/serve.ts";
import { makePki } from "../tests/helpers/tls.ts";
import { median, printJson, printLine, printTable } from "./harness.ts";

const SIZES = [60, 300, 400, 1_000, 5_000];
const REQUESTS = 12;

/** A JSON value that encodes to exactly `bytes` bytes. */
const ofSize = (bytes: number) => ({ pad: "x".repeat(bytes - '{"pad":""}'.length) });

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });
const app = new Hono();
app.post("/send-json/:n", async (c) => {
  await c.req.arrayBuffer();
  return sendJson(c, ofSize(Number(c.req.param("n"))));
});
app.post("/c-json/:n", async (c) => {
  await c.req.arrayBuffer();
  return c.json(ofSize(Number(c.req.param("n"))));
});
const server = await servePublic({
  fetch: app.fetch,
  http: {
    port: 0,
    hostname: "127.0.0.1",
    development: false,
    tls: {
      cert: new Secret(pki.serverCert, "bench"),
      key: new Secret(pki.serverKey, "bench"),
      requireClientCert: false,
    },
  },
  log: memoryLogger(),
});

/** Median ms of sequential POSTs on one keep-alive connection, after two warm-ups. */
async function medianMs(path: string): Promise<number> {
  const client = Deno.createHttpClient({ caCerts: [pki.caCert], http1: true, http2: false });
  try {
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = performance.now();
      const r = await fetch(`https://127.0.0.1:${server.port}${path}`, {
        method: "POST",
        body: "{}",
        client,
      });
      await r.arrayBuffer();
      if (i >= 2) times.push(performance.now() - t0);
    }
    return median(times);
  } finally {
    client.close();
  }
}

const rows: (string | number)[][] = [];
const result: Record<string, unknown> = {};
for (const n of SIZES) {
  const known = await medianMs(`/send-json/${n}`);
  const streamed = await medianMs(`/c-json/${n}`);
  rows.push([n, Number(known.toFixed(2)), Number(streamed.toFixed(2))]);
  result[`${n}B`] = { sendJsonMs: known, cJsonMs: streamed };
}
await server.shutdown();
printLine("HTTPS answer latency on a keep-alive HTTP/1.1 connection (median ms)");
printTable(["bytes", "sendJson (known length)", "c.json (streamed)"], rows);
printJson({ bench: "https_respond", ...result });
