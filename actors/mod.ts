/**
 * The engine's public face for the layers above it (`app/`, and transports for the few values
 * they share with it). Transports otherwise depend on `./ports.ts`, types only.
 * @module
 */

export { errorMessage } from "./runtime/errors.ts";
