/**
 * The hosted SFTP folder (config `sftpServer`) wired to the engine: each upload is ingested as
 * a file of the integration its user feeds, and an X12 acknowledgment it makes is left in the
 * user's `outbox/` before the upload is answered.
 * @module
 */

import type { Config } from "../actors/config/mod.ts";
import type { Engine } from "../actors/engine/engine.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { isTemporaryName } from "../codecs/files/mod.ts";
import { HostedSftpServer } from "../transports/sftp/mod.ts";
import { leaveInOutbox } from "./hosted_acks.ts";

/** Starts the hosted SFTP folder `s` (the config's `sftpServer`), feeding `engine`. */
export function startHostedSftp(
  config: Config,
  s: NonNullable<Config["sftpServer"]>,
  engine: Engine,
  log: Logger,
): Promise<HostedSftpServer> {
  const integrations = new Map(config.integrations.map((i) => [i.id, i]));
  return HostedSftpServer.start({
    ...s,
    hostKey: s.hostKey.reveal(),
    maxFileBytes: config.limits.maxHl7Bytes,
    maxConnections: config.limits.maxSftpConnections,
    holdBack: isTemporaryName,
    log,
    onUpload: async (u) => {
      const integration = integrations.get(u.integration);
      if (!integration) throw new Error(`no integration ${u.integration}`);
      const taken = await engine.files.ingest({
        integration,
        fileName: u.fileName,
        bytes: u.bytes,
        peer: u.peer,
      });
      if (taken.acknowledgment) {
        await leaveInOutbox(s.root, u.user, u.path, taken.acknowledgment, log);
      }
    },
  });
}
