/**
 * `send HOST:PORT FILE...`: sends HL7 files (batch files split into messages) over one MLLP
 * connection, one message at a time, and reports each ACK.
 * @module
 */

import { decodeHl7, splitBatch, tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import { connectMllp } from "./client.ts";

/** One message's outcome. */
export interface SendResult {
  file: string;
  index: number;
  controlId: string | undefined;
  /** MSA-1, or `TIMEOUT` / `CLOSED` / `UNCORRELATED`. */
  code: string;
  ack?: string;
}

/** Options for {@link sendFiles}. */
export interface SendOptions {
  host: string;
  port: number;
  files: string[];
  /** ACK timeout per message, default 30 s. */
  timeoutMs?: number;
  /** Called with each result as it arrives. */
  onResult?(result: SendResult): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One message read from a file, ready to send. */
interface Outgoing {
  file: string;
  index: number;
  message: string;
  controlId: string | undefined;
}

/**
 * Sends every message of every file in order; stops at the first timeout or closed connection.
 * Every file is read and split before connecting, so a missing or empty file sends nothing.
 */
export async function sendFiles(options: SendOptions): Promise<SendResult[]> {
  const outgoing = await readMessages(options.files);
  const results: SendResult[] = [];
  let conn: Awaited<ReturnType<typeof connectMllp>>;
  try {
    conn = await connectMllp({ host: options.host, port: options.port }, {
      timeoutMs: 10_000,
      signal: new AbortController().signal,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot connect to ${options.host}:${options.port}: ${reason}`);
  }
  try {
    for (const { file, index, message, controlId } of outgoing) {
      await conn.send(encoder.encode(message));
      const result = await awaitAck(conn, controlId, options.timeoutMs ?? 30_000);
      const full = { file, index, controlId, ...result };
      results.push(full);
      options.onResult?.(full);
      if (result.code === "TIMEOUT" || result.code === "CLOSED") return results;
    }
  } finally {
    conn.close();
  }
  return results;
}

async function readMessages(files: readonly string[]): Promise<Outgoing[]> {
  const outgoing: Outgoing[] = [];
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "no such file"
        : (error instanceof Error ? error.message : String(error));
      throw new Error(`cannot read ${file}: ${reason}`);
    }
    const batch = splitBatch(decodeHl7(bytes).text);
    if (batch.messages.length === 0) {
      throw new Error(`${file}: no HL7 message (no MSH segment) found`);
    }
    for (const [index, message] of batch.messages.entries()) {
      const parsed = tryParseHl7(message);
      const controlId = parsed.ok ? parsed.message.controlId : undefined;
      outgoing.push({ file, index: index + 1, message, controlId });
    }
  }
  return outgoing;
}

async function awaitAck(
  conn: Awaited<ReturnType<typeof connectMllp>>,
  controlId: string | undefined,
  timeoutMs: number,
): Promise<{ code: string; ack?: string }> {
  const deadline = AbortSignal.timeout(timeoutMs);
  while (true) {
    const got = await conn.receive(deadline);
    if (got.type === "aborted") return { code: "TIMEOUT" };
    if (got.type === "closed") return { code: "CLOSED", ack: got.reason };
    const ack = decoder.decode(got.payload);
    const parsed = tryParseHl7(ack);
    if (!parsed.ok) return { code: "UNREADABLE", ack };
    const answered = parsed.message.get("MSA-2");
    if (controlId !== undefined && answered !== controlId) continue; // a stale reply
    return { code: parsed.message.get("MSA-1") ?? "NO-MSA", ack };
  }
}
