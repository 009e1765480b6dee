/**
 * The planning thread's module: `plan_threads.ts` starts it as a Worker (node:worker_threads,
 * for its heap limit). See `plan_thread_serve.ts`.
 * @module
 */

import { servePlans } from "./plan_thread_serve.ts";

servePlans();
