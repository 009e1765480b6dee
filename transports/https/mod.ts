/**
 * HTTPS transports for outbound delivery: the `fetch`-based sender.
 * @module
 */

export { FetchSender, type FetchSenderOptions } from "./fetch_sender.ts";
