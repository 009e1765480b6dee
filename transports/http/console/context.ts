/**
 * What the console's routes are built from, and what each request carries once signed in.
 * @module
 */

import type {
  AdminService,
  AlertNotification,
  AlertState,
  ClusterView,
  Config,
  ConsoleStateStore,
  DestinationAdmin,
  Logger,
  RuleSet,
} from "../../../actors/ports.ts";
import type { ListingSupervisor } from "../unserved.ts";
import type { Session, Sessions } from "./sessions.ts";
import type { Users } from "./users.ts";

/** Everything the console reads and acts on, through the engine's ports. */
export interface ConsoleDeps {
  /** Connections, integrations, sources, destinations and subscriptions to draw. */
  config: Pick<
    Config,
    "connections" | "integrations" | "sources" | "destinations" | "subscriptions" | "node"
  >;
  /** Actors and their commands; the queues no live node serves too when it lists them. */
  supervisor: ListingSupervisor;
  store: AdminService;
  state: ConsoleStateStore;
  destinations?: DestinationAdmin;
  users: Users;
  sessions: Sessions;
  log: Logger;
  now: () => number;
  /** A new time-ordered id (audit entries). */
  newId: () => string;
  /** Cookies get `Secure` (served over TLS). */
  secure: boolean;
  /** The delivery actor of a destination id, if it has one. */
  actorOfDestination: (destinationId: string) => string | undefined;
  /** The nodes sharing the KV and which one owns each actor (absent: this node owns all). */
  cluster?: ClusterView;
  /** The engine's file intake (the SFTP folders'), for uploads; none: uploads are refused. */
  files?: ConsoleFileIntake;
  /** The alert monitor's records, for `/console/alerts` (none: the page says so). */
  alerts?: ConsoleAlerts;
}

/**
 * What `/console/alerts` reads (read only): the alerts firing and the notifications the alert
 * monitor keeps in KV (shared by every process on it), and the rules and channels in force.
 */
export interface ConsoleAlerts {
  /** Alerts firing now. */
  firing(): Promise<AlertState[]>;
  /** Notifications, newest first; `before` continues after a previous page's `next`. */
  history(
    options: { limit?: number; before?: string },
  ): Promise<{ notifications: AlertNotification[]; next?: string }>;
  /** The rules in force and their source (`config`, or `admin`: set by `PUT /admin/alerts`). */
  ruleSet(): Promise<RuleSet>;
  /** How often rules are evaluated, and the channels (never their secrets). */
  settings(): { evaluateEverySeconds: number; channels: { id: string; type: string }[] };
}

/** What became of an uploaded file (the file intake's answer). */
export interface UploadOutcome {
  contentType: string;
  sha256: string;
  /** Messages found in the file (one per HL7 message or X12 transaction set). */
  messages: number;
  stored: number;
  duplicates: number;
  /** The TA1 / 999 answering an X12 file. */
  acknowledgment?: { fileName: string; bytes: Uint8Array };
}

/** The file intake uploads go through: the same one the SFTP folders use. */
export interface ConsoleFileIntake {
  /** Largest file taken (config `limits.maxHl7Bytes`). */
  maxBytes: number;
  /** Stores, splits and acknowledges a file; rejects when it could not be stored. */
  ingest(file: {
    integration: { id: string; environment: string };
    fileName: string;
    bytes: Uint8Array;
    peer: string;
  }): Promise<UploadOutcome>;
}

/** Hono's environment for console routes. */
export interface ConsoleEnv {
  Variables: { session: Session };
}
