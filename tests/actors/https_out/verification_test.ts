/**
 * Destination verification against real HTTPS receivers: the challenge by POST (JSON body) or by
 * GET (query parameters), verified only on a 2xx answer that echoes the challenge, the outcome
 * kept in KV across a restart, and tied to the URL it was made against.
 */

import assert from "node:assert/strict";
import { HttpsDestinations, verificationKey } from "../../../actors/https_out/mod.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { Store } from "../../../actors/store/store.ts";
import { FetchSender } from "../../../transports/https/fetch_sender.ts";
import { freePort } from "../../helpers/net.ts";
import { makePki } from "../../helpers/tls.ts";
import { httpsDestinationConfig } from "./fixtures/config.ts";
import { type Received, startServer, type TestServer } from "./fixtures/server.ts";

const pki = await makePki();
await Deno.remove(pki.dir, { recursive: true });

const TOKEN = "vt-verify-0123456789";

/** The challenge of a verification request, wherever it came. */
function challengeOf(req: Received): string | null {
  if (req.method === "GET") return new URL(req.path, "https://x").searchParams.get("challenge");
  try {
    return JSON.parse(req.text).challenge ?? null;
  } catch {
    return null;
  }
}

interface Setup {
  destinations: HttpsDestinations;
  store: Store;
  sender: FetchSender;
  clock: ManualClock;
  log: ReturnType<typeof memoryLogger>;
  dir: string;
  close(): Promise<void>;
}

async function setup(
  url: string,
  options: { verifyMethod?: "GET" | "POST"; dir?: string; auth?: Record<string, unknown> } = {},
): Promise<Setup> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "https-verify-" });
  const store = await Store.open({ path: `${dir}/engine.kv`, node: "test" });
  const sender = new FetchSender({ caCerts: [pki.caCert] });
  const clock = new ManualClock();
  const log = memoryLogger();
  const { config } = httpsDestinationConfig({
    envType: "production",
    https: {
      url,
      verificationToken: { env: "VT" },
      ...(options.verifyMethod ? { verifyMethod: options.verifyMethod } : {}),
      ...(options.auth ? { auth: options.auth } : {}),
    },
    env: { VT: TOKEN },
  });
  const destinations = new HttpsDestinations({
    config,
    records: store.verifications,
    sender,
    clock,
    log,
  });
  return {
    destinations,
    store,
    sender,
    clock,
    log,
    dir,
    close: async () => {
      sender.close();
      store.close();
      if (!options.dir) await Deno.remove(dir, { recursive: true });
    },
  };
}

async function withReceiver(
  answer: (req: Received) => Response,
  run: (receiver: TestServer) => Promise<void>,
): Promise<void> {
  const receiver = startServer(answer, pki);
  try {
    await run(receiver);
  } finally {
    await receiver.close();
  }
}

Deno.test("verification by POST succeeds when a 2xx answer echoes the challenge, and survives a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "https-verify-" });
  try {
    await withReceiver(
      (req) => Response.json({ challenge: challengeOf(req) }),
      async (receiver) => {
        const url = `${receiver.origin}/webhook`;
        const s = await setup(url, { dir });
        try {
          const result = await s.destinations.verify("ehr");
          assert.deepEqual(result, {
            destinationId: "ehr",
            verified: true,
            url,
            checkedAt: s.clock.now(),
            verifiedAt: s.clock.now(),
            status: 200,
            reason: "HTTP 200; the answer echoes the challenge",
          });
          const req = receiver.requests[0]!;
          assert.equal(req.method, "POST");
          assert.equal(req.path, "/webhook");
          assert.equal(req.headers.get("content-type"), "application/json");
          assert.equal(req.headers.get("verification-token"), TOKEN);
          assert.equal(req.headers.get("authorization"), `Bearer ${TOKEN}`);
          const body = JSON.parse(req.text);
          assert.deepEqual(Object.keys(body).sort(), ["challenge", "verification-token"]);
          assert.equal(body["verification-token"], TOKEN);
          assert.match(
            body.challenge,
            /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
          );
          assert.ok(!s.log.lines.join("\n").includes(TOKEN));
        } finally {
          await s.close();
        }
        // A new process on the same KV file sees the verification.
        const again = await setup(url, { dir });
        try {
          const stored = await again.store.kv.get(verificationKey("ehr"));
          assert.equal((stored.value as { verified: boolean }).verified, true);
          const [view] = await again.destinations.list();
          assert.equal(view?.verified, true);
          assert.equal(view?.verificationRequired, true);
          assert.equal(typeof view?.verifiedAt, "number");
        } finally {
          await again.close();
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verification by GET sends the token and challenge as query parameters", async () => {
  await withReceiver(
    (req) => new Response(`challenge=${challengeOf(req)}`),
    async (receiver) => {
      const s = await setup(`${receiver.origin}/hook?tenant=7`, { verifyMethod: "GET" });
      try {
        const result = await s.destinations.verify("ehr");
        assert.equal(result?.verified, true, result?.reason);
        const req = receiver.requests[0]!;
        assert.equal(req.method, "GET");
        assert.equal(req.text, "");
        const q = new URL(req.path, "https://x").searchParams;
        assert.equal(q.get("tenant"), "7");
        assert.equal(q.get("verification-token"), TOKEN);
        assert.ok(q.get("challenge"));
        // The stored record keeps the configured URL, not the one with the token in it.
        assert.equal(result?.url, `${receiver.origin}/hook?tenant=7`);
      } finally {
        await s.close();
      }
    },
  );
});

Deno.test("verification fails when the 2xx answer does not echo the challenge", async () => {
  await withReceiver(
    (req) => new Response(`ok, token ${req.headers.get("verification-token")} accepted`),
    async (receiver) => {
      const s = await setup(`${receiver.origin}/hook`);
      try {
        const result = await s.destinations.verify("ehr");
        assert.equal(result?.verified, false);
        assert.equal(result?.status, 200);
        assert.equal(
          result?.reason,
          "HTTP 200 but the answer does not echo the challenge: ok, token [redacted] accepted",
        );
        assert.equal((await s.destinations.list())[0]?.verified, false);
      } finally {
        await s.close();
      }
    },
  );
});

Deno.test("verification fails on a non-2xx answer even when it echoes the challenge", async () => {
  await withReceiver(
    (req) => new Response(`no such tenant; challenge ${challengeOf(req)}`, { status: 404 }),
    async (receiver) => {
      const s = await setup(`${receiver.origin}/hook`);
      try {
        const result = await s.destinations.verify("ehr");
        assert.equal(result?.verified, false);
        assert.equal(result?.status, 404);
        assert.match(result?.reason ?? "", /^HTTP 404, not 2xx: no such tenant; challenge /);
      } finally {
        await s.close();
      }
    },
  );
});

Deno.test("a failed re-verification, or a changed URL, leaves the destination unverified", async () => {
  let echo = true;
  await withReceiver(
    (req) => echo ? new Response(challengeOf(req)) : new Response("down", { status: 503 }),
    async (receiver) => {
      const dir = await Deno.makeTempDir({ prefix: "https-verify-" });
      try {
        const s = await setup(`${receiver.origin}/a`, { dir });
        try {
          assert.equal((await s.destinations.verify("ehr"))?.verified, true);
          echo = false;
          assert.equal((await s.destinations.verify("ehr"))?.verified, false);
          assert.equal((await s.destinations.list())[0]?.verified, false);
          echo = true;
          assert.equal((await s.destinations.verify("ehr"))?.verified, true);
        } finally {
          await s.close();
        }
        // Same id, another URL: the verification of the old one does not count.
        const moved = await setup(`${receiver.origin}/b`, { dir });
        try {
          const [view] = await moved.destinations.list();
          assert.equal(view?.verified, false);
          assert.equal(view?.lastVerification?.url, `${receiver.origin}/a`);
        } finally {
          await moved.close();
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
});

Deno.test("verification of an unreachable destination fails with the network error", async () => {
  // Nothing listens there: a port free a moment ago is the best a test can name.
  const port = freePort();
  const s = await setup(`https://127.0.0.1:${port}/hook`, { verifyMethod: "GET" });
  try {
    const result = await s.destinations.verify("ehr");
    assert.equal(result?.verified, false);
    assert.equal(result?.status, undefined);
    assert.match(
      result?.reason ?? "",
      new RegExp(`^https://127\\.0\\.0\\.1:${port}/hook: .*refused`),
    );
    // The query carried the token: it appears nowhere.
    assert.ok(!result?.reason.includes(TOKEN), result?.reason);
    assert.equal(s.destinations.verify("nope"), undefined);
  } finally {
    await s.close();
  }
});
