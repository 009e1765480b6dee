/**
 * X12 acknowledgments for the hosted SFTP folder: a TA1 / 999 answering an uploaded file is left
 * in the uploader's `outbox/` before its upload is answered, so it is there when `put` returns.
 * @module
 */

import { errorMessage } from "../actors/mod.ts";
import type { Logger } from "../actors/runtime/log.ts";
import { writeAcknowledgment } from "../actors/sftp/mod.ts";
import { hostedOutboxSessions } from "../transports/sftp/mod.ts";

/**
 * Writes `ack` into hosted user `user`'s `outbox/` under `root`. Never rejects: the file is
 * stored already, so a failure is logged (`sftp-server.x12-ack-failed`) and the upload stands.
 */
export async function leaveInOutbox(
  root: string,
  user: string,
  file: string,
  ack: { fileName: string; bytes: Uint8Array },
  log: Logger,
): Promise<void> {
  try {
    const session = await hostedOutboxSessions(root, user).open();
    try {
      const path = await writeAcknowledgment(
        session,
        "outbox",
        ack.fileName,
        ack.bytes,
        Date.now(),
      );
      log.info("sftp-server.x12-acknowledged", { user, file, ack: path });
    } finally {
      session.close();
    }
  } catch (error) {
    log.error("sftp-server.x12-ack-failed", { user, file, reason: errorMessage(error) });
  }
}
