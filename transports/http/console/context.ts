/**
 * What the console's routes are built from, and what each request carries once signed in.
 * @module
 */

import type {
  AdminService,
  ClusterView,
  Config,
  ConsoleStateStore,
  DestinationAdmin,
  Logger,
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
