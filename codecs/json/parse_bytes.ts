/**
 * Parsing a JSON body with an error that says where it went wrong (line, column, character
 * position) and what was expected there, without echoing the body back: a message may hold
 * patient data, and the parser's own messages quote the input.
 *
 * An object that names a key twice is refused, with the key and its JSON path: `JSON.parse` keeps
 * the last value, other receivers the first, so what was validated would not be what they read
 * from the bytes passed on.
 *
 * Pure code: the HTTP API (transports/http/json_parse.ts) runs it on the engine's thread, and the
 * planning thread (actors/engine/plan_thread_serve.ts) on large bodies, so both answer alike.
 * @module
 */

import { duplicateKeyAt } from "./duplicate_keys.ts";

/** A parsed JSON value, or why the bytes are not JSON (with the JSON path, when there is one). */
export type ParsedJson = { ok: true; value: unknown } | { ok: false; error: string; path?: string };

/** How {@link parseJsonBytes} checks for repeated keys. */
export interface ParseJsonOptions {
  /**
   * False when a scan of these bytes already found that no object repeats a key
   * (`JsonDepthScanner.mayRepeatKeys`, json_depth.ts): the full check is skipped.
   * True (the default) runs it.
   */
  keysMayRepeat?: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Lenient = new TextDecoder("utf-8");

/**
 * Decodes UTF-8 bytes (a leading BOM is dropped) and parses them as JSON, refusing a lone
 * UTF-16 surrogate and an object naming a key twice.
 */
export function parseJsonBytes(bytes: Uint8Array, options: ParseJsonOptions = {}): ParsedJson {
  // The lenient decoder has a fast path the fatal one lacks. Invalid bytes come out as U+FFFD,
  // so only text holding one (invalid, or that character itself) is decoded again strictly.
  let text = utf8Lenient.decode(bytes);
  if (text.includes("\uFFFD")) {
    try {
      text = utf8.decode(bytes);
    } catch {
      return { ok: false, error: `body is not valid UTF-8 (at byte ${invalidUtf8At(bytes)})` };
    }
  }
  try {
    const value = JSON.parse(text);
    // Half of a UTF-16 pair can only come from a `\uD800`–`\uDFFF` escape (UTF-8 cannot hold
    // one): rare, so the parsed value is walked only when the text has such an escape.
    if (SURROGATE_ESCAPE.test(text)) {
      const at = loneSurrogateAt(value, "$");
      if (at) {
        return {
          ok: false,
          error: `invalid text at ${at.path}: a lone UTF-16 surrogate (\\u${
            at.unit.toString(16)
          }) is not a character; send the character itself, or both halves of its pair`,
        };
      }
    }
    if (options.keysMayRepeat ?? true) {
      const repeated = duplicateKeyAt(text);
      if (repeated) {
        return {
          ok: false,
          error: `duplicate key ${JSON.stringify(repeated.key)} at ${repeated.path}: an object ` +
            "names it twice, and receivers differ on which value counts; send each key once",
          path: repeated.path,
        };
      }
    }
    return { ok: true, value };
  } catch {
    const where = locateJsonError(text);
    return {
      ok: false,
      error: where
        ? `invalid JSON at line ${where.line}, column ${where.column} ` +
          `(character ${where.position}): ${where.problem}`
        : "invalid JSON: the parser refused it (nested too deeply?)",
    };
  }
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * The first string (a value or a key) in `value` holding half of a UTF-16 surrogate pair without
 * the other half, with its JSON path and the code unit; undefined when there is none. Iterative.
 */
export function loneSurrogateAt(
  value: unknown,
  root: string,
): { path: string; unit: number } | undefined {
  const stack: [unknown, string][] = [[value, root]];
  const lone = (s: string) => {
    if (s.isWellFormed()) return undefined;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        const next = s.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) i++;
        else return c;
      } else if (c >= 0xdc00 && c <= 0xdfff) return c;
    }
    return undefined;
  };
  const segment = (key: string) =>
    /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      const unit = lone(v);
      if (unit !== undefined) return { path, unit };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (v !== null && typeof v === "object") {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i]!;
        const unit = lone(k);
        if (unit !== undefined) return { path: `${path} (a key)`, unit };
        stack.push([child, `${path}${segment(k)}`]);
      }
    }
  }
  return undefined;
}

/** Where a JSON text first breaks the grammar. */
export interface JsonErrorLocation {
  /** 0-based index into the text (UTF-16 code units, as JavaScript counts). */
  position: number;
  /** 1-based line. */
  line: number;
  /** 1-based column within the line. */
  column: number;
  /** What was found and what was expected. */
  problem: string;
}

const LITERALS = ["true", "false", "null"];
const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
const WS = /[ \t\n\r]*/y;

/**
 * The first place `text` is not JSON (RFC 8259), or undefined when it is valid. Iterative, so
 * deep nesting cannot overflow the stack.
 */
export function locateJsonError(text: string): JsonErrorLocation | undefined {
  let i = 0;
  const stack: ("{" | "[")[] = [];
  const fail = (problem: string): JsonErrorLocation => {
    const before = text.slice(0, i);
    const line = before.split("\n").length;
    return { position: i, line, column: i - (before.lastIndexOf("\n") + 1) + 1, problem };
  };
  const found = () => i >= text.length ? "the end of the body" : `${JSON.stringify(text[i])}`;
  const skip = () => {
    WS.lastIndex = i;
    WS.exec(text);
    i = WS.lastIndex;
  };
  // Scans a string at `i` (which holds `"`); returns a problem or undefined.
  const string = (): JsonErrorLocation | undefined => {
    i++;
    for (;;) {
      if (i >= text.length) return fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return fail("control character in a string (escape it, e.g. \\n)");
      if (c === 0x5c) {
        // Positions point at the offending character, as JSON.parse reports them.
        i++;
        if (i >= text.length) return fail("unterminated string");
        if (text[i] === "u") {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/^[0-9A-Fa-f]$/.test(text[i] ?? "")) {
              return fail(`expected 4 hex digits after \\u, found ${found()}`);
            }
          }
        } else if (!'"\\/bfnrt'.includes(text[i]!)) {
          return fail(`invalid escape \\${text[i]} in a string`);
        }
        i++;
      } else i++;
    }
  };
  // A number at `i`: -?(0|[1-9]digits)(.digits)?([eE][+-]?digits)?
  const digits = (what: string): JsonErrorLocation | undefined => {
    if (!isDigit(text[i])) return fail(`expected a digit ${what}, found ${found()}`);
    while (isDigit(text[i])) i++;
    return undefined;
  };
  const number = (): JsonErrorLocation | undefined => {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else {
      const bad = digits(text[i - 1] === "-" ? "after the minus sign" : "");
      if (bad) return bad;
    }
    if (text[i] === ".") {
      i++;
      const bad = digits("after the decimal point");
      if (bad) return bad;
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      return digits("in the exponent");
    }
    return undefined;
  };
  // After `{` or `,` in an object: a key and its colon.
  const key = (): JsonErrorLocation | undefined => {
    skip();
    if (text[i] !== '"') return fail(`expected a double-quoted property name, found ${found()}`);
    const bad = string();
    if (bad) return bad;
    skip();
    if (text[i] !== ":") return fail(`expected ':' after the property name, found ${found()}`);
    i++;
    return undefined;
  };

  for (;;) {
    // A value is expected here.
    skip();
    const c = text[i];
    if (c === undefined) return fail("unexpected end of the body: expected a value");
    if (c === "{" || c === "[") {
      stack.push(c);
      i++;
      skip();
      const close = c === "{" ? "}" : "]";
      if (text[i] === close) {
        stack.pop();
        i++;
      } else {
        if (c === "{") {
          const bad = key();
          if (bad) return bad;
        }
        continue;
      }
    } else if (c === '"') {
      const bad = string();
      if (bad) return bad;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const bad = number();
      if (bad) return bad;
    } else {
      const literal = LITERALS.find((w) => w[0] === c);
      if (!literal) return fail(`unexpected ${found()}: expected a value`);
      for (let k = 1; k < literal.length; k++) {
        i++;
        if (text[i] !== literal[k]) return fail(`expected ${literal}, found ${found()}`);
      }
      i++;
    }
    // A value ended: close containers or move to the next item.
    for (;;) {
      skip();
      const top = stack[stack.length - 1];
      if (top === undefined) {
        return i < text.length ? fail(`unexpected ${found()} after the JSON value`) : undefined;
      }
      const close = top === "{" ? "}" : "]";
      if (text[i] === close) {
        stack.pop();
        i++;
        continue;
      }
      if (text[i] === ",") {
        i++;
        if (top === "{") {
          const bad = key();
          if (bad) return bad;
        }
        break;
      }
      const after = top === "{" ? "a property value" : "an array element";
      return fail(`expected ',' or '${close}' after ${after}, found ${found()}`);
    }
  }
}

/** The offset of the first byte that breaks UTF-8 (the length when none does). */
export function invalidUtf8At(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const [n, min] = b < 0x80
      ? [0, 0]
      : b >= 0xc2 && b < 0xe0
      ? [1, 0x80]
      : b >= 0xe0 && b < 0xf0
      ? [2, 0x800]
      : b >= 0xf0 && b < 0xf5
      ? [3, 0x10000]
      : [-1, 0];
    if (n < 0) return i;
    let cp = n === 0 ? b : b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (next & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return i;
}
