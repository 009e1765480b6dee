/**
 * The planning thread, failing on purpose (tests/actors/engine/plan_thread_failures_test.ts): as
 * actors/engine/plan_thread.ts, but a job whose payload holds one of these words fails the way it
 * says before it starts.
 *
 * - `CRASH-ON-PLAN` / `CRASH-ON-READ`: an uncaught error ends the thread.
 * - `OOM-ON-PLAN`: the thread allocates until it reaches its heap limit.
 * - `HANG-ON-PLAN`: the thread never answers (a loop that does not end).
 * - `THROW-ON-PLAN`: the job throws (as a bug in planning would).
 */

import { servePlans } from "../../../actors/engine/plan_thread_serve.ts";

const decoder = new TextDecoder();

servePlans({
  beforeJob(job, payload) {
    const text = decoder.decode(payload);
    const asked = (word: string) => text.includes(`${word}-ON-${job.op.toUpperCase()}`);
    if (asked("CRASH")) {
      return new Promise(() => {
        setTimeout(() => {
          throw new Error("crashed on purpose");
        }, 0);
      });
    }
    if (asked("OOM")) {
      const held: unknown[] = [];
      // Large arrays go straight to the old generation, which the heap limit bounds.
      for (;;) held.push(new Array(1_000_000).fill(held.length + 0.5));
    }
    if (asked("HANG")) { for (;;) { /* never answers */ } }
    if (asked("THROW")) throw new Error("a planning bug, on purpose");
    return undefined;
  },
});
