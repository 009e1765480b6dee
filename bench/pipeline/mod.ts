/**
 * The rig shared by bench/pipeline.ts, bench/soak.ts and bench/crash.ts: the real engine as a
 * child process (`main.ts serve --config …`, started as `deno task start` starts it), a counting
 * MLLP receiver as its destination, the peers measured next to it (`@medplum/hl7`'s `Hl7Server`
 * in Node, `kv-limit-server.ts`, the bare pipeline), the Node load generators of
 * `../shared/tools`, per-thread CPU and RSS of a child from /proc, and the receive → delivered
 * latencies read back from the engine's KV file once it is stopped.
 *
 * Every child it starts is tracked; {@link killAll} (called by the guard timer, on SIGINT/SIGTERM
 * and at the end of a run) stops the ones still running, by their own pid only.
 *
 * This folder is not a benchmark script itself: bench/mod.ts runs only the `*.ts` files directly
 * in bench/.
 *
 * @module
 */

export { freePort, HOST, installGuard, killAll, removeNow, sleep } from "./children.ts";
export { corpusStats, type LoadResult, mllpLoad, mllpPaced } from "./load.ts";
export { Probe, Receiver, waitDelivered } from "./receiver.ts";
export { EngineChild, kvBytes, residentBytes } from "./engine_child.ts";
export { type CommitPace, commitPace, kvCommits } from "./commit_pace.ts";
export {
  type Peer,
  settleDisk,
  startBarePipeline,
  startHl7ServerNode,
  startKvLimit,
} from "./peers.ts";
export {
  cpuByGroup,
  type CpuRow,
  type CpuSnapshot,
  cpuSnapshot,
  cpuUsPerMessage,
  type MachineCpu,
  machineCpu,
  machineShare,
  ticksPerSecond,
} from "./cpu.ts";
export { deliveredLatencies, quantile, round, type SlowSpan } from "./latency.ts";
export { LagMonitor } from "./lag.ts";
export { kvRowsApp } from "./kv_rows_app.ts";
export { apiMessage } from "./api_message.ts";
export { httpLoad, type HttpLoadOptions, type HttpLoadResult } from "./http_load.ts";
