/**
 * Load generator for bench/https_ingress.ts and bench/api_to_mllp.ts, run in its own process:
 * `CONC` clients, each a loop of keep-alive HTTP/1.1 `POST`s over TLS or plain HTTP (one request in
 * flight per client), for `SECONDS`.
 * Every answer must be 200; latency is measured per request. Prints one JSON line.
 *
 * Usage: `deno run -A bench/load/https_post.ts URL CONC SECONDS CA_FILE BODY_FILE [TOKEN]`, with
 * `CA_FILE` "-" for a plain `http://` URL.
 * @module
 */

const [url, concArg, secondsArg, caFile, bodyFile, token] = Deno.args;
if (!url || !concArg || !secondsArg || !caFile || !bodyFile) {
  throw new Error("usage: https_post.ts URL CONC SECONDS CA_FILE BODY_FILE [TOKEN]");
}
const conc = Number(concArg);
const seconds = Number(secondsArg);
const body = await Deno.readFile(bodyFile);
const client = Deno.createHttpClient({
  // "-" for plain HTTP (no certificate to trust).
  caCerts: caFile === "-" ? [] : [await Deno.readTextFile(caFile)],
  http1: true,
  http2: false,
  poolMaxIdlePerHost: conc,
});
const headers = {
  "content-type": "application/json",
  ...(token ? { authorization: `Bearer ${token}` } : {}),
};

let ok = 0;
let bad = 0;
let errors = 0;
let firstProblem = "";
const latencies: number[] = [];
const end = performance.now() + seconds * 1000;

async function worker(): Promise<void> {
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      const r = await fetch(url!, { method: "POST", headers, body, client });
      const text = await r.text();
      if (r.status === 200) {
        ok++;
        latencies.push(performance.now() - t0);
      } else {
        bad++;
        firstProblem ||= `${r.status} ${text.slice(0, 200)}`;
      }
    } catch (error) {
      errors++;
      firstProblem ||= String(error);
    }
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: conc }, worker));
const elapsed = (performance.now() - t0) / 1000;
client.close();
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies.length
    ? Number(
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(2),
    )
    : null;
Deno.stdout.writeSync(
  new TextEncoder().encode(
    JSON.stringify({
      conc,
      seconds: Number(elapsed.toFixed(2)),
      ok,
      bad,
      errors,
      per_s: Math.round(ok / elapsed),
      p50_ms: pct(0.5),
      p99_ms: pct(0.99),
      ...(firstProblem ? { firstProblem } : {}),
    }) + "\n",
  ),
);
