/**
 * The interface `POST /endpoint` hands an authenticated JSON message to. The HTTP transport does
 * authentication, size limits, rate limits and JSON parsing; everything about the message itself
 * (data-model validation, the source's subscriptions and destinations, durable storage, the
 * answer's `Meta.Logs`) lives behind this interface.
 * @module
 */

/** A data-model JSON message received from an API source. */
export interface ApiRequest {
  /** The source (API client) the access token was issued to. */
  sourceId: string;
  /** The environment of that source, carried in the access token. */
  environment: string;
  /** The parsed body (any JSON value: checking its shape is the engine's job). */
  json: unknown;
  /** The body exactly as received (UTF-8 JSON), for durable storage. */
  bytes: Uint8Array;
  /** The peer's IP address, for logs. */
  peerIp: string;
}

/** One reason a message was refused, at a dotted JSON path such as `Patient.Demographics.DOB`. */
export interface ApiProblem {
  /** Where in the message (dotted path, `[n]` for array items; `""` for the whole message). */
  path: string;
  /** What is wrong there, in words a client developer can act on. */
  rule: string;
}

/** HTTP statuses an {@link ApiInbox} may refuse a message with. */
export type ApiRefusalStatus = 400 | 403 | 404 | 413 | 500 | 503;

/** What the engine answers for a message. */
export type ApiAcceptResult =
  | {
    ok: true;
    /** The JSON answered with `200`: the message's `Meta` with `Logs` (one per destination). */
    body: unknown;
  }
  | {
    ok: false;
    /**
     * 400 invalid message (with `problems`), 403 wrong environment, 404 unknown destination,
     * 413 over a size limit (e.g. an embedded file), 500 failed to store, 503 store unavailable.
     */
    status: ApiRefusalStatus;
    /** One sentence saying what is wrong. */
    error: string;
    /** For 400: every problem found, each with its path. */
    problems?: ApiProblem[];
    /** For 503: when the client may try again. */
    retryAfterSeconds?: number;
  };

/** Receives JSON messages from API sources for the engine. */
export interface ApiInbox {
  /**
   * Validates and durably stores one message, resolving only once it is committed (or refused).
   * Should not reject: a failure to store is `{ok: false, status: 500 | 503}`. (The transport
   * still answers a rejection with 500.)
   */
  accept(request: ApiRequest): Promise<ApiAcceptResult>;
}

/** HTTP statuses a query may be refused with. */
export type ApiQueryRefusalStatus = 400 | 403 | 404 | 502 | 503 | 504;

/** What the engine answers a query with. */
export type ApiQueryResult =
  | {
    ok: true;
    /** The JSON answered with `200`. */
    body: unknown;
  }
  | {
    ok: true;
    /** An HTTPS destination's `2xx` body that is not JSON, answered as it came. */
    text: string;
    contentType: string;
  }
  | {
    ok: false;
    /**
     * 400 invalid query, 403 wrong environment / not subscribed / destination not verified,
     * 404 unknown destination, 502 the destination could not be reached or answered nonsense,
     * 503 the engine cannot query now, 504 no answer within the query timeout.
     */
    status: ApiQueryRefusalStatus;
    /** One sentence saying what is wrong. */
    error: string;
    /** For 400: every problem found, each with its path. */
    problems?: ApiProblem[];
  };

/** Answers synchronous queries (`POST /query`) from API sources. */
export interface ApiQuerier {
  /**
   * Sends one query to the one destination it names and resolves with the answer, within the
   * configured query timeout. `signal`, if given, stops it early (the client went away).
   * Should not reject.
   */
  query(request: ApiRequest, signal?: AbortSignal): Promise<ApiQueryResult>;
}
