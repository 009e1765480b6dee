/**
 * The command line's way to a running engine's admin API (`status`, `actor`): the admin token
 * from `ENGINE_ADMIN_TOKEN` or a file (never from the command line, never printed), one request
 * at a time with a timeout, and why the engine could not be asked, in one line.
 * @module
 */

import { errorMessage } from "../actors/mod.ts";

/** The engine could not be asked: not reached, or it refused the token. The CLI exits 2. */
export class AdminUnreachable extends Error {
  override name = "AdminUnreachable";
}

/** An answer of the admin API: its status and its body parsed as JSON (undefined if not JSON). */
export interface AdminAnswer {
  status: number;
  body: unknown;
}

/** Each request is given up after this long. */
export const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The admin token: `ENGINE_ADMIN_TOKEN` when set and not empty, else the first line of
 * `tokenFile`. Throws {@link AdminUnreachable} naming the file (not its content) when unreadable.
 */
export async function readAdminToken(
  tokenFile: string,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<string> {
  const fromEnv = env("ENGINE_ADMIN_TOKEN")?.trim();
  if (fromEnv) return fromEnv;
  let text: string;
  try {
    text = await Deno.readTextFile(tokenFile);
  } catch (error) {
    throw new AdminUnreachable(
      `cannot read the admin token from ${tokenFile}: ${errorMessage(error)} ` +
        "(set ENGINE_ADMIN_TOKEN or pass --token-file FILE)",
    );
  }
  const token = text.trim();
  if (!token) throw new AdminUnreachable(`the admin token file ${tokenFile} is empty`);
  return token;
}

/** The error's message and its causes', the fetch boilerplate left out. */
function causes(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const text = errorMessage(e)
      .replace(/^error sending request for url \([^)]*\): /, "")
      .replace(/^client error \(Connect\): /, "");
    if (text && text !== "fetch failed" && !parts.includes(text)) parts.push(text);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ") || errorMessage(error);
}

/** Why a request to `url` failed before any answer, in words an operator acts on. */
export function reachFailure(url: string, error: unknown): string {
  const message = terminalSafe(causes(error));
  const name = error instanceof Error ? error.name : "";
  const where = `cannot reach the engine at ${url}`;
  if (name === "TimeoutError" || /timed? ?out|deadline/i.test(message)) {
    return `${where}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  }
  if (/connection refused|ECONNREFUSED/i.test(message)) {
    return `${where}: connection refused (is the engine running, with HTTP on this port?)`;
  }
  if (
    /certificate|tls|ssl|handshake|corrupt message|InvalidContentType|UnknownIssuer/i.test(message)
  ) {
    return `${where}: TLS error (http:// vs https://, or a certificate not trusted): ${message}`;
  }
  if (/dns|lookup|resolve|not known/i.test(message)) {
    return `${where}: host name not resolved: ${message}`;
  }
  return `${where}: ${message}`;
}

/** A client of one engine's admin API with one token. */
export class AdminClient {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  /** `url` is the engine's base URL (`http://127.0.0.1:8080`); a trailing `/` is dropped. */
  constructor(url: string, token: string, timeoutMs = REQUEST_TIMEOUT_MS) {
    this.url = url.replace(/\/+$/, "");
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * `method path` with the token, bounded by the timeout. Throws {@link AdminUnreachable} when
   * the engine cannot be reached, refuses the token (401), or throttles this address (429);
   * any other status is the caller's to read.
   */
  async request(method: "GET" | "POST", path: string, body?: unknown): Promise<AdminAnswer> {
    const answer = await this.#fetch(method, path, body, true);
    if (answer.status === 401) {
      throw new AdminUnreachable(
        `the engine at ${this.url} refused the admin token (401 unauthorized): ` +
          "check ENGINE_ADMIN_TOKEN or --token-file",
      );
    }
    if (answer.status === 429) {
      throw new AdminUnreachable(
        `the engine at ${this.url} throttles this address after wrong tokens (429): try later`,
      );
    }
    return answer;
  }

  /** `GET path` without the token (`/healthz`). */
  unauthenticated(path: string): Promise<AdminAnswer> {
    return this.#fetch("GET", path, undefined, false);
  }

  async #fetch(
    method: string,
    path: string,
    body: unknown,
    withToken: boolean,
  ): Promise<AdminAnswer> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        signal,
        headers: {
          ...(withToken ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new AdminUnreachable(reachFailure(this.url, signal.aborted ? signal.reason : error));
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new AdminUnreachable(reachFailure(this.url, signal.aborted ? signal.reason : error));
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  }
}

/**
 * `text` safe to print on a terminal: every control character (C0, DEL, C1) and the
 * bidirectional overrides written as `\xNN` / `\u{NNNN}`, so a peer's bytes in a last error can
 * neither move the cursor, recolour nor retitle the operator's terminal.
 */
export function terminalSafe(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (ch) => {
    const code = ch.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}

/** An actor id as a path segment: as is where the admin routes take it, else percent-encoded. */
export function actorPath(id: string): string {
  return encodeURIComponent(id).replace(/%3A/gi, ":").replace(/%40/g, "@");
}
