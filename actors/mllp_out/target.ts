/**
 * The connection target of an MLLP destination's config, with its TLS material revealed.
 * @module
 */

import type { DestinationConfig } from "../config/mod.ts";
import type { MllpTarget } from "./connector.ts";

/** Host, port and TLS (CA, client certificate and key as PEM) of `mllp`. */
export function mllpTarget(mllp: NonNullable<DestinationConfig["mllp"]>): MllpTarget {
  const tls = mllp.tls;
  return {
    host: mllp.host,
    port: mllp.port,
    ...(tls
      ? {
        tls: {
          ...(tls.ca ? { ca: tls.ca.reveal() } : {}),
          ...(tls.cert ? { cert: tls.cert.reveal() } : {}),
          ...(tls.key ? { key: tls.key.reveal() } : {}),
        },
      }
      : {}),
  };
}
