/**
 * Agent mode with two real engine processes (each on its own KV file): MLLP in at the site →
 * `forward` over HTTP (OAuth 2.0 client credentials against the central engine's
 * `/v2/auth/token`) → `POST /forward` at the central engine → an `Hl7Server` (@medplum/hl7).
 */

import assert from "node:assert/strict";
import { adt, startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { RawMllpSender, summarizeAck } from "../../helpers/raw_sender.ts";
import { type AgentPair, startAgentPair } from "./agent_pair.ts";

/** An Hl7Server that ACKs everything and keeps what it got, as text. */
async function startSink(): Promise<{ port: number; got: string[]; stop(): Promise<void> }> {
  const { received: got, server, port } = await startRecordingHl7Server();
  return { port, got, stop: () => server.stop({ forceDrainTimeoutMs: 100 }) };
}

const controlIdOf = (text: string) => text.split("\r")[0]!.split("|")[9]!;

/** Sends each message on one connection, asserting the site's `AA` for each. */
async function sendAll(port: number, messages: string[]): Promise<void> {
  const sender = await RawMllpSender.connect(port);
  try {
    for (const m of messages) {
      const ack = summarizeAck(await sender.request(m, 15_000));
      assert.equal(ack.code, "AA", `site ACK for ${controlIdOf(m)}: ${JSON.stringify(ack)}`);
    }
  } finally {
    await sender.close();
  }
}

async function withPair(
  options: Parameters<typeof startAgentPair>[0],
  run: (pair: AgentPair) => Promise<void>,
): Promise<void> {
  const pair = await startAgentPair(options);
  try {
    await run(pair);
    pair.site.assertNoUnhandled();
    pair.central.assertNoUnhandled();
  } catch (error) {
    const tail = (s: string) => s.slice(-3000);
    throw new Error(
      `${(error as Error).message}\n--- site ---\n${tail(pair.site.output)}\n--- central ---\n${
        tail(pair.central.output)
      }`,
      { cause: error },
    );
  } finally {
    await pair.stop();
  }
}

Deno.test("agent mode: MLLP in at the site arrives at the central engine's receiver byte for byte, in order", async () => {
  const sink = await startSink();
  try {
    await withPair({ receiverPort: sink.port }, async (pair) => {
      const messages = Array.from({ length: 20 }, (_, i) => adt(`FWD${i}`, `^Ünïcode${i}`));
      await sendAll(pair.sitePorts.original, messages);
      await waitFor("20 messages at the receiver", () => sink.got.length >= 20, 30_000);
      assert.deepEqual(sink.got, messages, "the receiver got the site's messages unchanged");
      // The central engine stored each once, for the integration the site's is mapped to.
      const received = await pair.central.logs("RECEIVE");
      assert.deepEqual(received.map((l) => l.controlId), messages.map(controlIdOf));
      assert.ok(received.every((l) => l.integrationId === "site-a-adt"));
      const sent = await pair.site.logs("SEND");
      assert.ok(sent.every((l) => l.status === "SUCCEEDED" && l.destinationId === "central"));
      assert.match(sent[0]!.attempts[0]!.reason!, /^HTTP 200: central message \S+$/);
    });
  } finally {
    await sink.stop();
  }
});

Deno.test("agent mode: the central engine killed and restarted during a load — every message the site acknowledged arrives once, in order", async () => {
  const sink = await startSink();
  try {
    await withPair({ receiverPort: sink.port, forwardTimeoutSeconds: 5 }, async (pair) => {
      const messages = Array.from(
        { length: 60 },
        (_, i) => adt(`LOAD${String(i).padStart(3, "0")}`),
      );
      await sendAll(pair.sitePorts.original, messages.slice(0, 20));
      await waitFor("some messages forwarded", () => sink.got.length >= 5, 30_000);
      // No shutdown at all: whatever was in flight is lost on the wire.
      await pair.central.stop("SIGKILL");
      // The site keeps acknowledging: it stores on its own KV and queues.
      await sendAll(pair.sitePorts.original, messages.slice(20, 40));
      await pair.central.restart(0);
      await sendAll(pair.sitePorts.original, messages.slice(40));
      await waitFor("every message at the receiver", () => {
        return new Set(sink.got).size >= messages.length;
      }, 60_000);
      // The forward leg stores each message once at the central engine, in the site's order.
      const received = await pair.central.logs("RECEIVE");
      assert.deepEqual(received.map((l) => l.controlId), messages.map(controlIdOf));
      // The receiver got them in order. The central engine's own MLLP leg is at least once: a
      // message it had delivered but not yet marked done when killed is sent again after the
      // restart, right where it was (an adjacent repeat), never out of order.
      const firsts = sink.got.filter((m, i) => sink.got.indexOf(m) === i);
      assert.deepEqual(firsts, messages);
      for (let i = 1; i < sink.got.length; i++) {
        const at = messages.indexOf(sink.got[i]!);
        const before = messages.indexOf(sink.got[i - 1]!);
        assert.ok(at <= before + 1, `message ${at} came after ${before}`);
      }
    });
  } finally {
    await sink.stop();
  }
});

Deno.test("agent mode: a retry after a dropped answer is deduplicated by the central engine", async () => {
  const sink = await startSink();
  // Between the engines: passes every request on, but holds back the central engine's first
  // answer for FWD-DROP (the site gives up on it at its timeout), as a lost answer would.
  let dropped = 0;
  const hold = new AbortController();
  let centralBase = "";
  const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const body = new Uint8Array(await req.arrayBuffer());
    const answer = await fetch(`${centralBase}${url.pathname}`, {
      method: req.method,
      headers: req.headers,
      body: req.method === "GET" ? undefined : body,
    });
    const text = new Uint8Array(await answer.arrayBuffer());
    if (
      url.pathname === "/forward" && dropped === 0 &&
      new TextDecoder().decode(body).includes("FWD-DROP")
    ) {
      dropped++;
      // Stored at the central engine by now; the site never hears of it.
      await new Promise<void>((resolve) => {
        hold.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      return new Response(null, { status: 502 });
    }
    return new Response(text, { status: answer.status, headers: answer.headers });
  });
  try {
    await withPair({
      receiverPort: sink.port,
      // 5 s, not 2: every other forward (through the proxy, stored by the central engine) must be
      // answered within it on a loaded machine too, or it is retried and FWD-DROP's count is off;
      // FWD-DROP's first answer is held until the test ends, so it still times out.
      forwardTimeoutSeconds: 5,
      forwardUrl: (base) => {
        centralBase = base;
        return `http://127.0.0.1:${proxy.addr.port}/forward`;
      },
    }, async (pair) => {
      const messages = [adt("FWD-A"), adt("FWD-DROP"), adt("FWD-B")];
      await sendAll(pair.sitePorts.original, messages);
      await waitFor("three messages at the receiver", () => sink.got.length >= 3, 30_000);
      assert.equal(dropped, 1);
      const received = await pair.central.logs("RECEIVE");
      assert.deepEqual(received.map((l) => l.controlId), ["FWD-A", "FWD-DROP", "FWD-B"]);
      assert.deepEqual(sink.got, messages);
      const send = (await pair.site.logs("SEND")).find((l) => l.controlId === "FWD-DROP")!;
      assert.equal(send.status, "SUCCEEDED");
      assert.equal(send.attemptCount, 2);
      assert.equal(send.attempts[0]!.outcome, "FAILED");
      assert.match(send.attempts[1]!.reason!, /^HTTP 200: central message \S+ \(already stored\)$/);
      assert.match(pair.central.output, /forward\.duplicate/);
    });
  } finally {
    hold.abort();
    await proxy.shutdown();
    await sink.stop();
  }
});

Deno.test("agent mode: an enhanced-mode sender at the site gets the central engine's application ACK", async () => {
  const sink = await startSink();
  const enhanced = (id: string) => adt(id).replace("|AL|NE", "|AL|AL");
  try {
    await withPair({ receiverPort: sink.port }, async (pair) => {
      // Routed by the central engine: CA from the site, then the central engine's AA.
      const ok = await RawMllpSender.connect(pair.sitePorts.enhanced);
      try {
        assert.equal(summarizeAck(await ok.request(enhanced("ENH-1"), 15_000)).code, "CA");
        const [app] = await ok.frameCount(2, 1, 30_000);
        const verdict = summarizeAck(app!);
        assert.equal(verdict.code, "AA");
        assert.equal(verdict.msa2, "ENH-1");
      } finally {
        await ok.close();
      }
      // The central engine's flow fails it (an HL7 edit with no translation): the site would
      // have said AA; the sender gets the central engine's AE and its reason.
      const bad = await RawMllpSender.connect(pair.sitePorts.enhancedJson);
      try {
        assert.equal(summarizeAck(await bad.request(enhanced("ENH-2"), 15_000)).code, "CA");
        const [app] = await bad.frameCount(2, 1, 30_000);
        const verdict = summarizeAck(app!);
        assert.equal(verdict.code, "AE");
        assert.equal(verdict.msa2, "ENH-2");
        assert.match(verdict.reason ?? "", /destination ehr: .*no entry in translation set noSex/);
      } finally {
        await bad.close();
      }
      assert.match(pair.site.output, /forward\.app-ack .*code=AE/);
      // The central engine answers once it has routed; it delivers to the sink after that.
      await waitFor("the sink has ENH-1", () => sink.got.length >= 1);
      assert.deepEqual(sink.got.map(controlIdOf), ["ENH-1"]);
    });
  } finally {
    await sink.stop();
  }
});
