/**
 * A message as `GET /admin/messages/:id` shows it, with the payloads its shaped deliveries sent:
 * a SEND log whose modifiers or HL7 edits ran names the stored, modified payload
 * (`shaping.messageId`); the view lists each beside the original.
 * @module
 */

import type { AdminService, LogRecord } from "../../actors/ports.ts";
import { encodePayload, type MessageView } from "./present.ts";

/** One shaped delivery's payload. */
export interface ModifiedPayload {
  /** The SEND log it belongs to. */
  logId: string;
  destinationId?: string;
  /** The stored modified payload (`GET /admin/messages/:messageId` shows it alone). */
  messageId: string;
  contentType: string;
  encoding: "utf-8" | "base64";
  payload: string;
}

/** Most modified payloads shown inline (one per shaped destination of the message). */
const MAX_SHOWN = 50;

/**
 * `view` with `modified`: the payload each shaped delivery sent (absent when none was shaped).
 * A payload gone meanwhile (retention) is left out.
 */
export async function withModified(
  view: MessageView,
  store: Pick<AdminService, "getMessage" | "getPayload">,
): Promise<MessageView & { modified?: ModifiedPayload[] }> {
  const shaped = view.logs.filter((l: LogRecord) => l.type === "SEND" && l.shaping?.messageId)
    .slice(0, MAX_SHOWN);
  if (shaped.length === 0) return view;
  const modified: ModifiedPayload[] = [];
  for (const log of shaped) {
    const messageId = log.shaping!.messageId!;
    const record = await store.getMessage(messageId);
    if (!record) continue;
    modified.push({
      logId: log.id,
      ...(log.destinationId ? { destinationId: log.destinationId } : {}),
      messageId,
      contentType: record.contentType,
      ...encodePayload(await store.getPayload(record)),
    });
  }
  return { ...view, modified };
}
