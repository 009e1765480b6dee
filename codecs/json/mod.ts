/**
 * JSON helpers shared by every door that takes JSON (pure code).
 * @module
 */

export { duplicateKeyAt } from "./duplicate_keys.ts";
