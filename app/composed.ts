/**
 * What the composition root takes and gives back (see `compose.ts`): the {@link Adapters} a test
 * or benchmark may put in place of the real ones, and the running engine with its servers
 * ({@link Composed}), how to stop it and what a stop reports. Types and one constant only:
 * `compose.ts` re-exports them.
 * @module
 */

import type { Hono } from "hono";
import type { Engine, EngineOptions } from "../actors/engine/engine.ts";
import type { DeliveryDrainReport } from "../actors/runtime/supervisor.ts";
import type { HttpSender, MailSender, MllpConnector, SftpConnector } from "../actors/ports.ts";
import type { Clock } from "../actors/runtime/clock.ts";
import type { Logger } from "../actors/runtime/log.ts";
import type { Store } from "../actors/store/store.ts";
import type { AlertMonitor } from "../actors/alerts/monitor.ts";
import type { IntegrityResult } from "../actors/store/integrity_check.ts";
import type { HttpDrainReport, PublicServer } from "../transports/http/serve.ts";
import type { MllpDrainReport, MllpServer } from "../transports/mllp/server.ts";
import type { HostedSftpServer } from "../transports/sftp/mod.ts";
import type { Sandbox } from "./sandbox.ts";
import type { ReloadResult } from "./reload.ts";

/** What `compose` may be given instead of the real thing (all optional but `log`). */
export interface Adapters {
  /** Where every part of the engine logs. */
  log: Logger;
  /** Outbound MLLP; the socket connector by default. */
  mllpConnector?: MllpConnector;
  /** HTTPS destinations; a `fetch` sender by default (closed by `close()` when it made it). */
  httpSender?: HttpSender;
  /** SFTP polls and destinations; ssh2 by default. */
  sftpConnector?: SftpConnector;
  /** Time and sleeps (tests use a manual clock); the system clock by default. */
  clock?: Clock;
  /** An already-open store (tests); otherwise opened from `config.kv` and closed by `close()`. */
  store?: Store;
  /** Poll period for work written by other processes, default 1 s. */
  pollMs?: number;
  /** This process holds its node id's lock on the local KV file (see `EngineOptions`). */
  nodeLocked?: boolean;
  /** Leave out the HTTP server (tests of MLLP or SFTP only). */
  http?: boolean;
  /** E-mail for alert channels; SMTP through nodemailer by default. */
  mailSender?: MailSender;
  /** The file the config came from: `POST /admin/config/reload` and SIGHUP read it again. */
  configFile?: string;
  /** How the planning thread for large messages runs (tests); see actors/engine/plan_threads.ts. */
  planThreads?: EngineOptions["planThreads"];
}

/** The servers `compose` started, with the ports they are bound to. */
export interface Servers {
  /** The public HTTP(S) server; `http.port` is the bound port (config `http.port` may be 0). */
  http?: PublicServer;
  /** One per MLLP integration port of the config, in the order the config first names them. */
  mllp: MllpServer[];
  /** The hosted SFTP folder, when the config has `sftpServer`. */
  sftp?: HostedSftpServer;
}

/** A running engine and its servers. */
export interface Composed extends AsyncDisposable {
  /** The engine, started. */
  engine: Engine;
  /** The servers started, with their bound ports. */
  servers: Servers;
  /** The Hono app served over HTTP (tests may `fetch` it without a socket). */
  app: Hono;
  /** The development sandbox, when the config has `sandbox`. */
  sandbox?: Sandbox;
  /** The alert monitor (config `alerts`). */
  alerts: AlertMonitor;
  /** The background integrity check of the KV file the engine opened (none for `:memory:`, a
   * KV Connect URL or a store given in `adapters`): its result, once reported. */
  kvIntegrity?: Promise<IntegrityResult>;
  /** Reads the config file again and applies it (app/reload.ts); refused without a file. */
  reload(by: string): Promise<ReloadResult>;
  /** What a stop would drain now (see {@link Composed.stop}). */
  intake(): IntakeInFlight;
  /**
   * Stops everything. First the intake drains, HTTP and MLLP together, within `graceMs` (10 s by
   * default): no new connections; requests and MLLP frames already received finish (commit and
   * answer); what comes meanwhile is refused (HTTP `503`, MLLP `AE`, never stored); at the grace
   * what is left is cut off. Deliveries go on meanwhile; once the intake has drained (at the
   * latest {@link DELIVERY_RESERVE_MS} before the grace ends) the delivery actors send nothing
   * new and take in, until the grace ends, the ACKs of what is on the wire, marking it delivered
   * (`Supervisor.drain`). Then the sandbox, the SFTP folder, the engine (and its store), the
   * sender. Calling it again (or {@link close}) joins the stop under way.
   */
  stop(options?: { graceMs?: number }): Promise<StopReport>;
  /** {@link stop} with the default grace, without the report. */
  close(): Promise<void>;
}

/** Default grace of {@link Composed.stop} for what is in flight. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

/**
 * Of a stop's grace, what the delivery actors get at least (a fifth of a grace shorter than
 * 10 s): they are held when the intake has drained, or this long before the grace ends.
 */
export const DELIVERY_RESERVE_MS = 2_000;

/** What {@link Composed.intake} reports. */
export interface IntakeInFlight {
  /** Open MLLP connections. */
  mllpConnections: number;
  /** MLLP frames received and not answered yet (being committed, or queued behind a commit). */
  mllpUnanswered: number;
  /** HTTP requests being answered. */
  httpRequests: number;
}

/** How {@link Composed.stop} went. */
export interface StopReport {
  /** Whether the intake drained within the grace (nothing was cut off). */
  drained: boolean;
  /** From the start of the stop to the end of the drain, ms. */
  drainMs: number;
  /** Summed over the MLLP listeners. */
  mllp: Omit<MllpDrainReport, "port">;
  /** The HTTP server's drain, when it was serving. */
  http?: HttpDrainReport;
  /** The delivery actors' part: what was on the wire, marked or left unmarked. */
  deliveries: DeliveryDrainReport;
}
