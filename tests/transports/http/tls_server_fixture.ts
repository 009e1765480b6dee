/**
 * An HTTPS server for the `http.tls-failed` tests: the engine's `servePublic` with a test PKI's
 * server certificate, logging to a memory logger whose throttle runs on a manual clock. What it
 * serves is moot.
 * @module
 */

import { Secret } from "../../../actors/config/secret.ts";
import type { ManualClock } from "../../../actors/runtime/clock.ts";
import type { memoryLogger } from "../../../actors/runtime/log.ts";
import { type PublicServer, servePublic } from "../../../transports/http/serve.ts";
import type { TestPki } from "../../helpers/tls.ts";

/** An HTTPS server with `pki`'s certificate logging to `log`, its throttle timed by `clock`. */
export async function httpsServer(
  pki: TestPki,
  log: ReturnType<typeof memoryLogger>,
  clock: ManualClock,
): Promise<PublicServer> {
  return await servePublic({
    fetch: () => new Response("ok"),
    http: {
      port: 0,
      hostname: "127.0.0.1",
      development: false,
      tls: {
        cert: new Secret(pki.serverCert, "t"),
        key: new Secret(pki.serverKey, "t"),
        requireClientCert: false,
      },
    },
    log,
    now: () => clock.now(),
  });
}
