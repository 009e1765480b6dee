/**
 * Text helpers shared by the codecs: bytes read as text one to one (true ISO-8859-1, not the
 * WHATWG `latin1` label, which is windows-1252).
 * @module
 */

export { latin1Decode, latin1Encode, NotLatin1Error } from "./latin1.ts";
