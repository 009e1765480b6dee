/**
 * The outbound MLLP connection over a real loopback socket: a wait for a frame ended by
 * `interrupt()` (how the deliverer times an ACK out) leaves the connection as it was.
 */

import assert from "node:assert/strict";
import { connectMllp } from "../../../transports/mllp/client.ts";
import { encodeMllp } from "../../../codecs/mllp/mod.ts";

Deno.test("an interrupted receive ends aborted and the frame that comes later goes to the next receive", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const stop = new AbortController();
  const conn = await connectMllp(
    { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
    { timeoutMs: 5_000, signal: stop.signal },
  );
  const peer = await accepted;
  try {
    const job = new AbortController();
    const waiting = conn.receive(job.signal);
    conn.interrupt();
    assert.deepEqual(await waiting, { type: "aborted" });
    // Nothing is waiting now: interrupting again changes nothing.
    conn.interrupt();
    assert.equal(conn.open, true);

    await peer.write(encodeMllp("MSH|^~\\&|A|B|C|D|20260101||ACK|1|P|2.5\rMSA|AA|X1\r"));
    const got = await conn.receive(job.signal);
    assert.equal(got.type, "frame");
    assert.match(
      new TextDecoder().decode(got.type === "frame" ? got.payload : undefined),
      /MSA\|AA\|X1/,
    );
    // The job's signal still ends a wait as before.
    const next = conn.receive(job.signal);
    job.abort();
    assert.deepEqual(await next, { type: "aborted" });
  } finally {
    conn.close();
    peer.close();
    listener.close();
  }
});
