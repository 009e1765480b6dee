/**
 * A worker that opens `count` connections to a port and resets each as soon as it is connected,
 * then sets the shared flag. It runs on its own thread so the test's thread can stay blocked the
 * whole time: the listener then finds every connection already reset when it accepts it.
 * @module
 */

import net from "node:net";

/** The message the worker takes. */
export interface ConnectResetRequest {
  port: number;
  count: number;
  /** An Int32Array's buffer: [0] becomes 1 when done. */
  flag: SharedArrayBuffer;
}

(self as unknown as Worker).onmessage = async (e: MessageEvent<ConnectResetRequest>) => {
  const { port, count, flag } = e.data;
  await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<void>((resolve) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.resetAndDestroy());
        socket.on("error", () => {/* expected */});
        socket.on("close", () => resolve());
      })),
  );
  const done = new Int32Array(flag);
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
};
