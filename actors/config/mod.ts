/**
 * The engine's config: schema, secrets by reference, loading and cross-section checks.
 * @module
 */

export {
  type Config,
  configSchema,
  type ConfigSources,
  type DestinationConfig,
  type IntegrationConfig,
  type LimitsConfig,
  MIN_ADMIN_TOKEN_LENGTH,
  type SourceConfig,
  type SubscriptionConfig,
} from "./schema.ts";
export {
  type ConfigProblem,
  type ConfigResult,
  type ConfigWarning,
  formatProblems,
  jsonPath,
  loadConfigFile,
  MAX_CONFIG_BYTES,
  parseConfig,
  parseConfigText,
  processSources,
  readConfigText,
} from "./load.ts";
export { crossCheck } from "./cross_check.ts";
export {
  type DestinationFormat,
  type DocumentKind,
  documentMismatch,
  type FormatMismatch,
  formatMismatch,
} from "./destination_formats.ts";
export { MAX_DAYS, MAX_TIMER_MS, maxTimerUnits } from "./durations.ts";
export { RESERVED_USER_NAMES, reservedUserName } from "./reserved_names.ts";
export { Secret, timingSafeEqual } from "./secret.ts";
export { expandSandbox, SANDBOX_CLIENT_ID, SANDBOX_IDS, type SandboxConfig } from "./sandbox.ts";
