/**
 * The one public face of `actors/` for transports, types only: what the engine offers transports
 * (`MllpInbox` for MLLP listeners, `ApiInbox` and `ApiQuerier` for `POST /endpoint` and
 * `POST /query`) and what it needs from them. Transports implement framing, sockets, TLS and
 * HTTP; everything about what to answer lives behind these interfaces, and `app/compose.ts`
 * injects the implementations.
 * @module
 */

/** A frame received on a connection. */
export interface ReceivedFrame {
  payload: Uint8Array;
  localPort: number;
  peerIp: string;
  /** Identifies the connection in logs. */
  connection: string;
}

/** What to send back for a frame. */
export interface InboxReply {
  /**
   * The ACK/NAK to write (an HL7 message; the transport frames it). None when the sender's
   * MSH-15 asked for no accept acknowledgment of this outcome (enhanced mode).
   */
  reply?: Uint8Array;
  /** Close the connection after writing the reply. */
  close?: boolean;
  /**
   * An application acknowledgment to write on the same connection once the application step has
   * handled the message (enhanced mode, MSH-16); undefined when none is to be sent.
   */
  later?: Promise<Uint8Array | undefined>;
}

/** Receives MLLP traffic for the engine. */
export interface MllpInbox {
  /** Handles one frame; never rejects (failures become negative ACKs). */
  receive(frame: ReceivedFrame): Promise<InboxReply>;
  /** The answer to a frame over the size limit (the connection is closed after it). */
  oversize(info: { localPort: number; peerIp: string; size: number; limit: number }): Uint8Array;
  /** How long a connection from this peer may stay silent before it is closed. */
  idleTimeoutMs(localPort: number, peerIp: string): number;
  /** Largest frame accepted. */
  readonly maxFrameBytes: number;
}

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
  /**
   * The client asked for FHIR answers (`Accept: application/fhir+json` on `POST /query`): a
   * `searchset` Bundle from a FHIR-server destination, `406` from any other.
   */
  fhir?: boolean;
}

/** One reason a message was refused, at a dotted JSON path such as `Patient.Demographics.DOB`. */
export interface ApiProblem {
  /** Where in the message (dotted path, `[n]` for array items; `""` for the whole message). */
  path: string;
  /** What is wrong there, in words a client developer can act on. */
  rule: string;
}

/**
 * HTTP statuses an {@link ApiInbox} may refuse a message with (422: a route's modifier or HL7
 * edit failed on it).
 */
export type ApiRefusalStatus = 400 | 403 | 404 | 413 | 422 | 500 | 503;

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
  /** Like `accept`, for an X12 or C-CDA body; absent: such bodies are refused with 415. */
  acceptDocument?(request: ApiDocumentRequest): Promise<ApiDocumentResult>;
  /**
   * Like `accept`, for a FHIR message Bundle of VXU^V04 (no data model maps it): `json` is the
   * bundle, `bytes` its body; the problems' paths are FHIRPaths. Absent: it goes to `accept`.
   */
  acceptFhirVxu?(request: ApiRequest): Promise<ApiAcceptResult>;
}

/** An X12 (`application/edi-x12`) or C-CDA (XML) body posted by an API source. */
export interface ApiDocumentRequest {
  sourceId: string;
  environment: string;
  /** The media type as sent, e.g. `application/edi-x12`. */
  contentType: string;
  /** The body exactly as received. */
  bytes: Uint8Array;
  peerIp: string;
  /** The `destination` URL parameter (a query to one of several destinations). */
  destination?: string;
}

/** The answer to a document: as for JSON, or an X12 acknowledgment (`application/edi-x12`). */
export type ApiDocumentResult = ApiAcceptResult | { ok: true; text: string; contentType: string };

/** HTTP statuses a query may be refused with. */
export type ApiQueryRefusalStatus = 400 | 403 | 404 | 406 | 502 | 503 | 504;

/** What the engine answers a query with. */
export type ApiQueryResult =
  | {
    ok: true;
    /** The JSON answered with `200`. */
    body: unknown;
    /** Its media type when not `application/json` (a FHIR searchset: `application/fhir+json`). */
    contentType?: string;
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
     * 404 unknown destination, 406 a FHIR answer asked of a destination that is no FHIR server,
     * 502 the destination could not be reached or answered nonsense (or, for a FHIR answer, an
     * error), 503 the engine cannot query now, 504 no answer within the query timeout.
     */
    status: ApiQueryRefusalStatus;
    /** One sentence saying what is wrong. */
    error: string;
    /** For 400: every problem found, each with its path. */
    problems?: ApiProblem[];
    /** For a FHIR answer: the FHIR server's own OperationOutcome issues, as it sent them. */
    fhirIssues?: Record<string, unknown>[];
  };

/** Answers synchronous queries (`POST /query`) from API sources. */
export interface ApiQuerier {
  /**
   * Sends one query to the one destination it names and resolves with the answer, within the
   * configured query timeout. `signal`, if given, stops it early (the client went away).
   * Should not reject.
   */
  query(request: ApiRequest, signal?: AbortSignal): Promise<ApiQueryResult>;
  /** An X12 query (a 270) sent to the one destination subscribed to it; see `query`. */
  queryDocument?(request: ApiDocumentRequest): Promise<ApiQueryResult>;
}

// ---------------------------------------------------------------------------------------------
// What the engine needs from transports (implemented by transports/, injected by app/compose.ts),
// and the engine's values transports show or take. Type re-exports only: this module has no code.

export type {
  AheadMessage,
  MllpConnection,
  MllpConnector,
  MllpRunAhead,
  MllpTarget,
  Received,
} from "./mllp_out/connector.ts";
export type { HttpRequest, HttpResponse, HttpSender } from "./https_out/http_client.ts";
export type {
  SftpConnectOptions,
  SftpConnector,
  SftpEntry,
  SftpSession,
  SftpSessionSource,
  SftpStat,
  SftpStatusKind,
} from "./sftp/connector.ts";
export type { LargeJsonRequest, LargeJsonResult } from "./engine/api_large_json.ts";
export type { LargeFhirRequest, LargeFhirResult } from "./engine/api_large_fhir.ts";
export type { Logger } from "./runtime/log.ts";
export type { Clock } from "./runtime/clock.ts";
export type { Secret } from "./config/secret.ts";
export type { Config, LimitsConfig, SourceConfig } from "./config/mod.ts";
export type { ActorCommand, ActorStatus, CommandResult } from "./runtime/actor.ts";
export type { LogFilter, LogPage } from "./store/logs.ts";
export type { PayloadSearchPage } from "./store/payload_search.ts";
export type { LogRecord, LogStatus, LogType, MessageRecord } from "./store/types.ts";
export type { DestinationView } from "./https_out/https_destinations.ts";
export type { VerifyResult } from "./https_out/verification.ts";
export type { SigningKeyRecord } from "./store/auth_state.ts";
export type { ActorKind } from "./engine/identities.ts";
export type { ForwardInboxPort, ForwardRequest, ForwardResult } from "./forward/forward_inbox.ts";
export type { MailMessage, MailSender } from "./alerts/channels.ts";
export type { AlertsAdmin } from "./alerts/admin.ts";
export type { AlertNotification, AlertState, ChannelDelivery } from "./store/alerts.ts";
export type { AlertRule } from "./config/alerts.ts";
export type { RuleSet, StoredRuleProblem } from "./alerts/stored_rules.ts";
export type { AuditEntry, AuditPage, Role, UserRecord } from "./store/console_state.ts";
export type { NodeView } from "./runtime/cluster.ts";
export type { UnservedQueue } from "./runtime/supervisor_unserved.ts";

import type { ActorCommand, ActorStatus, CommandResult } from "./runtime/actor.ts";
import type { Store } from "./store/store.ts";
import type { DestinationView } from "./https_out/https_destinations.ts";
import type { VerifyResult } from "./https_out/verification.ts";
import type { SigningKeyRecord } from "./store/auth_state.ts";
import type { ConsoleState } from "./store/console_state.ts";
import type { NodeView } from "./runtime/cluster.ts";

/** What the admin endpoint needs of the supervisor (the runtime's `Supervisor` provides it). */
export interface AdminSupervisor {
  /** Status of every known or active actor. */
  statuses(): Promise<ActorStatus[]>;
  /** Status of one actor; undefined if the identity is unknown. */
  status(id: string): Promise<ActorStatus | undefined>;
  /** Runs an operator command; undefined if the identity is unknown. */
  command(
    id: string,
    command: ActorCommand,
    by: string,
    reason: string,
  ): Promise<CommandResult | undefined>;
  /** Wakes (or activates) the actor of a queue that just got work. */
  notify(id: string): void;
}

/** What the admin endpoint reads and changes in the store: logs, messages, dead letters,
 * reprocessing (the engine's `Store` provides it). */
export type AdminService = Pick<
  Store,
  | "deadLetters"
  | "listLogs"
  | "getLog"
  | "reprocess"
  | "getMessage"
  | "getPayload"
  | "logsOfMessage"
  | "searchPayloads"
>;

/** HTTPS destinations as the admin endpoint lists and verifies them. */
export interface DestinationAdmin {
  /** Every HTTPS destination with its verification state. */
  list(): Promise<DestinationView[]>;
  /** Verifies one destination now; undefined if there is no HTTPS destination `id`. */
  verify(id: string): Promise<VerifyResult> | undefined;
}

/** Scale-out membership as the console reads it (the engine's `Cluster` provides it). */
export interface ClusterView {
  /** This process's node id. */
  readonly node: string;
  /** The live node `actor` belongs to (rendezvous hashing over the live nodes). */
  ownerOf(actor: string): string;
  /** Every node with a heartbeat record, live or not. */
  nodes(): Promise<NodeView[]>;
}

/** The HTTP API's state shared by every process on the KV (the store's `auth` provides it). */
export interface AuthStateStore {
  /** The key access tokens are signed with, created on first use. */
  signingKey(now: number): Promise<SigningKeyRecord>;
  /** Records a client assertion's `jti`: true the first time, false for a replay before expiry. */
  useJti(clientId: string, jti: string, expiresAt: number, now: () => number): Promise<boolean>;
}

/** The console's audit log and users in KV, shared by every process (the store's `console`). */
export type ConsoleStateStore = Pick<
  ConsoleState,
  | "appendAudit"
  | "listAudit"
  | "listUsers"
  | "getUser"
  | "userByTokenSha256"
  | "createUser"
  | "deleteUser"
  | "messageByControlId"
>;
