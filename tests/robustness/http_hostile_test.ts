/**
 * Hostile HTTP clients against the real engine (a child process, see engine_process.ts): deeply
 * nested JSON with and without a token, huge headers, stalled headers and stalled bodies. Each
 * case ends with the checks every robustness case shares (alive, listeners answer `AA`, memory
 * bounded, nothing unhandled).
 */

import assert from "node:assert/strict";
import { LIMITS, SharedEngine } from "./engine_process.ts";
import { nestedJsonArrays, rawHttp } from "./hostile_peer.ts";

const shared = new SharedEngine();
const encoder = new TextEncoder();

/** A whole POST /endpoint request as bytes. */
function post(port: number, body: string, headers: Record<string, string> = {}): Uint8Array {
  const head = [
    "POST /endpoint HTTP/1.1",
    `Host: 127.0.0.1:${port}`,
    "Content-Type: application/json",
    `Content-Length: ${encoder.encode(body).length}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");
  return encoder.encode(head + body);
}

const NESTED_BYTES = 10 * 1000 * 1000;

/** A message whose `Patient` is ~`bytes` of nested arrays (an object, so it is really parsed). */
function nestedMessage(bytes: number): string {
  return `{"Meta": {"DataModel": "PatientAdmin", "EventType": "Arrival"}, "Patient": ${
    nestedJsonArrays(Math.floor(bytes / 2))
  }}`;
}
/** Growth allowed for a nested body: a small multiple of the body. */
const NESTED_RSS_KB = (8 * NESTED_BYTES) / 1024;
/** The case: just under the default `limits.maxJsonBytes` (40 MB), authenticated. */
const BIG_NESTED_BYTES = 39_900_000;

Deno.test("HTTP: hostile clients never crash the engine, stall it or blow up its memory", async (t) => {
  try {
    await t.step("10 MB of nested arrays without a token: 401, body never parsed", async () => {
      await shared.runCase("nested JSON, no token", async (engine) => {
        const res = await rawHttp(
          engine.httpPort,
          post(engine.httpPort, nestedMessage(NESTED_BYTES)),
          { timeoutMs: 15_000 },
        );
        assert.equal(res.status, 401, res.text.slice(0, 500));
      }, { rssAllowanceKb: NESTED_RSS_KB });
    });

    await t.step("10 MB of nested arrays with a token: 400 naming the depth limit", async () => {
      await shared.runCase("nested JSON, authenticated", async (engine) => {
        const token = await engine.token();
        const res = await rawHttp(
          engine.httpPort,
          post(engine.httpPort, nestedMessage(NESTED_BYTES), {
            Authorization: `Bearer ${token}`,
          }),
          { timeoutMs: 15_000 },
        );
        assert.equal(res.status, 400, res.text.slice(0, 500));
        assert.match(res.text, /depth/i);
        assert.match(res.text, new RegExp(`\\b${LIMITS.maxJsonDepth}\\b`));
      }, { rssAllowanceKb: NESTED_RSS_KB });
    });

    await t.step(
      "40 MB of nested arrays with a token: 400, memory within 6x the body",
      async () => {
        await shared.runCase("nested JSON, 40 MB authenticated", async (engine) => {
          const token = await engine.token();
          const res = await rawHttp(
            engine.httpPort,
            post(engine.httpPort, nestedMessage(BIG_NESTED_BYTES), {
              Authorization: `Bearer ${token}`,
            }),
            { timeoutMs: 30_000 },
          );
          assert.equal(res.status, 400, res.text.slice(0, 500));
          assert.match(res.text, /depth/i);
        }, { rssAllowanceKb: (6 * BIG_NESTED_BYTES) / 1024 });
      },
    );

    await t.step(
      `one level deeper than maxJsonDepth (${LIMITS.maxJsonDepth}): 400 naming depth and path`,
      async () => {
        await shared.runCase("nested JSON, just too deep", async (engine) => {
          const token = await engine.token();
          const deep = `{"Meta": {"DataModel": "PatientAdmin"}, "Patient": ${
            nestedJsonArrays(LIMITS.maxJsonDepth)
          }}`;
          const res = await rawHttp(
            engine.httpPort,
            post(engine.httpPort, deep, { Authorization: `Bearer ${token}`, Connection: "close" }),
          );
          assert.equal(res.status, 400, res.text.slice(0, 500));
          assert.match(res.text, /depth/i);
          assert.match(res.text, /Patient/, "the path of the too-deep value is named");
        });
      },
    );

    await t.step("a 1 MB header and 10,000 headers are refused, nothing else", async () => {
      await shared.runCase("huge headers", async (engine) => {
        const big = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(1 << 20)}\r\n\r\n`;
        const many = "GET /healthz HTTP/1.1\r\nHost: x\r\n" +
          Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join("") + "\r\n";
        for (const request of [big, many]) {
          const res = await rawHttp(engine.httpPort, request);
          // A 4xx, or the connection closed without an answer; never a 200 nor a 5xx.
          assert.ok(
            res.status === undefined ? res.end !== "open" : res.status >= 400 && res.status < 500,
            `status ${res.status}, connection ${res.end}: ${res.text.slice(0, 200)}`,
          );
        }
      });
    });

    await t.step(
      `headers trickled forever are cut at the header timeout (${LIMITS.httpHeaderTimeoutSeconds} s)`,
      async () => {
        await shared.runCase("slow headers", async (engine) => {
          const res = await rawHttp(
            engine.httpPort,
            "GET /healthz HTTP/1.1\r\nHost: x\r\n",
            {
              trickle: Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: y\r\n`),
              gapMs: 250,
              timeoutMs: 12_000,
            },
          );
          assert.notEqual(res.end, "open", "the engine still holds a connection sending headers");
          assert.ok(res.status === undefined || res.status === 408, `status ${res.status}`);
        });
      },
    );

    await t.step(
      `a stalled body gets 408 after the body timeout (${LIMITS.httpBodyTimeoutSeconds} s) and is closed`,
      async () => {
        await shared.runCase("slow body", async (engine) => {
          const token = await engine.token();
          const head = [
            "POST /endpoint HTTP/1.1",
            `Host: 127.0.0.1:${engine.httpPort}`,
            "Content-Type: application/json",
            "Content-Length: 1000",
            `Authorization: Bearer ${token}`,
            "",
            '{"Meta": {',
          ].join("\r\n");
          const res = await rawHttp(engine.httpPort, head, { timeoutMs: 12_000 });
          assert.equal(res.status, 408, `${res.end}: ${res.text.slice(0, 300)}`);
          assert.notEqual(res.end, "open", "the connection is closed after the 408");
        });
      },
    );

    await t.step("a stalled body without a token gets 401 without waiting for it", async () => {
      await shared.runCase("slow body, no token", async (engine) => {
        const head = [
          "POST /endpoint HTTP/1.1",
          `Host: 127.0.0.1:${engine.httpPort}`,
          "Content-Type: application/json",
          "Content-Length: 1000",
          "",
          '{"Meta": {',
        ].join("\r\n");
        const res = await rawHttp(engine.httpPort, head, { timeoutMs: 12_000 });
        assert.equal(res.status, 401, `${res.end}: ${res.text.slice(0, 300)}`);
      });
    });
  } finally {
    await shared.stop();
  }
});
