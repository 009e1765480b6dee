/**
 * The MLLP intake's reading and routing of a frame, on the planning thread when the frame is
 * large (see `plan_threads.ts`), here otherwise or when no planning thread can be started.
 * @module
 */

import { buildNakForUnparsable, type Hl7Message } from "../../codecs/hl7v2/mod.ts";
import type { Config, IntegrationConfig } from "../config/mod.ts";
import { type FrameRead, readFrame } from "./frame_read.ts";
import { type Hl7Plan, planHl7Routes } from "./hl7_routing.ts";
import { HL7_TYPE } from "./plan_transfer.ts";
import type { PlanThreads } from "./plan_threads.ts";

const encoder = new TextEncoder();

/**
 * Reads a frame (see `frame_read.ts`); `failed` when the planning thread failed (or was stopped)
 * before it had read it. A frame read on the thread comes back with its MSH segment alone.
 */
export async function readIntake(
  threads: PlanThreads | undefined,
  payload: Uint8Array,
  fallbackCharset: string | undefined,
): Promise<FrameRead | { failed: string }> {
  if (!threads || payload.byteLength <= threads.offloadBytes) {
    return readFrame(payload, fallbackCharset);
  }
  const read = await threads.read(payload, fallbackCharset);
  if (read.status === "done") return read.value;
  if (read.status === "failed") return { failed: read.reason };
  if (read.status === "cancelled") return { failed: "the engine is stopping" };
  return readFrame(payload, fallbackCharset); // no planning thread at all (logged)
}

/** `AE` (207) for a frame the planning thread could not read: the sender may send it again. */
export function notRead(payload: Uint8Array, why: string): Uint8Array {
  // What the NAK echoes of MSH is in the first bytes; only they are decoded here.
  const head = new TextDecoder().decode(payload.subarray(0, 65536));
  const reason = `could not read the message: ${why}`;
  return encoder.encode(
    buildNakForUnparsable({ reason, raw: head, code: "AE", errorCode: "207" }).encode(),
  );
}

/**
 * The routes of a message routed at intake; undefined when the planning thread failed (the
 * message then goes to the inbound queue, whose actor plans it again and reports what fails).
 */
export async function planIntake(
  threads: PlanThreads | undefined,
  frame: {
    config: Config;
    integration: IntegrationConfig;
    payload: Uint8Array;
    /** The message as read: its MSH segment alone when the planning thread read it. */
    msg: Hl7Message;
  },
): Promise<Hl7Plan | undefined> {
  const { config, integration, payload } = frame;
  const integrationId = integration.id;
  if (!threads || payload.byteLength <= threads.offloadBytes) {
    return planHl7Routes({ config, integration, integrationId, message: frame.msg });
  }
  const fallbackCharset = config.limits.fallbackCharset;
  const planned = await threads.plan({
    config,
    integrationId,
    contentType: HL7_TYPE,
    payload,
    fallbackCharset,
  });
  if (planned.status === "unavailable") {
    // No planning thread at all (logged): planned here, on the whole message.
    const whole = readFrame(payload, fallbackCharset);
    if (!whole.ok) return undefined;
    return planHl7Routes({ config, integration, integrationId, message: whole.message });
  }
  return planned.status === "done" && planned.value.ok ? planned.value.plan : undefined;
}
