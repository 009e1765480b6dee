/**
 * A client on a thread of its own (see `startWorkerClient` in large_forward_fixture.ts): says it
 * is ready, then builds each message it is asked for, posts it to `/forward`, and sends back the
 * answer.
 * @module
 */

import {
  type ForwardAnswer,
  type ForwardJob,
  largeOru,
  postForward,
} from "./large_forward_fixture.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ForwardJob>) => void) | null;
  postMessage(m: ForwardAnswer | { error: string } | "ready"): void;
};

scope.onmessage = async (e) => {
  const { base, token, controlId, bytes } = e.data;
  try {
    const text = largeOru(controlId, bytes);
    scope.postMessage(await postForward(base, token, controlId, text));
  } catch (error) {
    scope.postMessage({ error: String(error) });
  }
};
scope.postMessage("ready");
