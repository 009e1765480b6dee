/**
 * The outbound MLLP socket thread, failing on purpose: as `out_worker.ts`, but a message whose
 * payload is `FAIL` throws out of the thread's message handler (an uncaught error ends a Worker).
 */

/// <reference lib="deno.worker" />

import "../../../transports/mllp/out_worker.ts";

const handle = self.onmessage as (event: MessageEvent) => void;
self.onmessage = (event: MessageEvent) => {
  const m = event.data as { op: string; payload?: Uint8Array };
  if (m.op === "send" && new TextDecoder().decode(m.payload) === "FAIL") {
    throw new Error("the test's thread fails here");
  }
  handle.call(self, event);
};
