/**
 * Leaving an X12 acknowledgment (TA1 / 999) where the sender of a file picks it up: the hosted
 * user's `outbox/`, or a polled integration's `x12.ackFolder` on its server. Written under a
 * temporary name and renamed, like a delivery, so the sender never reads half of it.
 * @module
 */

import { fileTimestamp, joinPath, temporaryNameFor } from "../../codecs/files/mod.ts";
import type { SftpSession } from "./connector.ts";

/** Writes `bytes` as `folder/fileName` (a taken name gets a time prefix); returns the path. */
export async function writeAcknowledgment(
  session: SftpSession,
  folder: string,
  fileName: string,
  bytes: Uint8Array,
  now: number,
): Promise<string> {
  await session.mkdir(folder, { recursive: true });
  let target = joinPath(folder, fileName);
  if (await session.stat(target)) target = joinPath(folder, `${fileTimestamp(now)}-${fileName}`);
  const temporary = joinPath(folder, temporaryNameFor(target.split("/").pop()!));
  await session.write(temporary, bytes);
  await session.rename(temporary, target);
  return target;
}
