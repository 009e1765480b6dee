/**
 * The engine's public face: what `app/` composes (the engine, the store, the config) and the few
 * values transports share with it (errors they throw or recognise, limits). Transports otherwise
 * depend on `./ports.ts`, types only.
 * @module
 */

export type * from "./ports.ts";
export { errorMessage } from "./runtime/errors.ts";
export { RESERVED_USER_NAMES, reservedUserName } from "./config/reserved_names.ts";
export { systemClock } from "./runtime/clock.ts";
export { ipBytes, ipMatches } from "./engine/peers.ts";
export {
  LogThrottle,
  type LogThrottleOptions,
  REPEATABLE_LOG_BURST,
  REPEATABLE_LOG_INTERVAL_MS,
} from "./runtime/log_throttle.ts";
export { DEFAULT_MAX_BODY_BYTES, HttpSendError } from "./https_out/http_client.ts";
export { redact, secretValues } from "./https_out/redact.ts";
export {
  FileTooLargeError,
  HostKeyMismatchError,
  SftpAuthError,
  SftpStatusError,
} from "./sftp/connector.ts";
export { SftpDeadlineError } from "./sftp/bounded_session.ts";
