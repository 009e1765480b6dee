/**
 * What main.ts (the CLI) uses: the composition root and the few tools its other commands need.
 * @module
 */

export { type Adapters, compose, type Composed, ComposeError, type Servers } from "./compose.ts";
export { startFailure } from "./compose_error.ts";
export { adminToken } from "./admin_token.ts";
export { allocatorReport } from "./allocator.ts";
export { lockNode, type NodeLock } from "./node_lock.ts";
export { describeKv, kvLocation, runtimeProblems } from "./config_check.ts";
export {
  type ConfigWarning,
  formatProblems,
  loadConfigFile,
  parseConfig,
  processSources,
} from "../actors/config/mod.ts";
export { createLogger, type Level, type Logger } from "../actors/runtime/log.ts";
export { containStrayErrors } from "../actors/runtime/stray_errors.ts";
export { errorMessage } from "../actors/mod.ts";
export { listen } from "../transports/mllp/listen.ts";
export { sendFiles } from "../transports/mllp/send.ts";
