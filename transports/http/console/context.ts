/**
 * What the console's routes are built from, and what each request carries once signed in.
 * @module
 */

import type {
  AdminService,
  AdminSupervisor,
  ClusterView,
  Config,
  ConsoleStateStore,
  DestinationAdmin,
  Logger,
} from "../../../actors/ports.ts";
import type { Session, Sessions } from "./sessions.ts";
import type { Users } from "./users.ts";

/** Everything the console reads and acts on, through the engine's ports. */
export interface ConsoleDeps {
  /** Connections, integrations, sources, destinations and subscriptions to draw. */
  config: Pick<
    Config,
    "connections" | "integrations" | "sources" | "destinations" | "subscriptions" | "node"
  >;
  supervisor: AdminSupervisor;
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
}

/** Hono's environment for console routes. */
export interface ConsoleEnv {
  Variables: { session: Session };
}
