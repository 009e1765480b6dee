/**
 * The outbound actor's behaviours of `delivery_test.ts` again, with the engine's default connector:
 * sockets on a thread of their own, which sends the next queued message itself on an accept.
 */

import { useThreadConnector } from "../../helpers/outbound.ts";

useThreadConnector();
await import("./delivery_test.ts");
