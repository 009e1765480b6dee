/**
 * The development sandbox: a simulated health system (a synthetic EHR that sends, receives,
 * validates, answers queries and misbehaves on request) and the engine echo (a destination that
 * accepts anything and sends it back). Pure of sockets: transports serve their inboxes and they
 * send through the engine's ports.
 *
 * @module
 */

export { EngineEcho, type EngineEchoOptions } from "./echo.ts";
export {
  checkSendRequest,
  MAX_SEND_COUNT,
  type SendRequest,
  SimulatedHealthSystem,
  type SimulatedHealthSystemOptions,
} from "./health_system.ts";
export { checkMisbehaviour, type Misbehaviour, WELL_BEHAVED } from "./misbehaviour.ts";
export { type JsonAnswer, type Receipt, type ReceiptOutcome, SandboxReceiver } from "./receiver.ts";
export { type SendReport, type SendTarget } from "./sender.ts";
