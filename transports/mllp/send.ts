/**
 * `send HOST:PORT FILE...`: sends HL7 files (batch files split into messages) over one MLLP
 * connection, one message at a time, and reports each ACK. Each message goes out as it is in the
 * file, in the file's character set, every segment (the last one too) ended by CR.
 * @module
 */

import { decodeHl7, encodeHl7, HL70357, splitBatch, tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import {
  ASCII_SAFE_CHARSETS,
  controlByteLocation,
  firstControlByte,
} from "../../codecs/hl7v2/control_byte.ts";
import { connectMllp } from "./client.ts";
import { errorMessage } from "../../actors/mod.ts";

/** One error an ACK reports, its text unescaped. */
export interface AckErrorText {
  /** ERR-3.1 (HL7 table 0357), when the ACK has an ERR segment. */
  code?: string;
  /** The code's name in table 0357 (`Unknown key identifier`). */
  name?: string;
  /** ERR-8, else MSA-3, with HL7 escapes decoded. */
  text: string;
}

/** One message's outcome. */
export interface SendResult {
  file: string;
  index: number;
  /** MSH-10 of the message sent (read even when the message does not parse), else MSA-2. */
  controlId: string | undefined;
  /** MSA-1, or `TIMEOUT` / `CLOSED` / `UNREADABLE` / `NO-MSA` / `NOT-SENT`. */
  code: string;
  /** Why the message was not sent (code `NOT-SENT`): MLLP cannot frame it. */
  notSent?: string;
  /** The ACK as received. */
  ack?: string;
  /** What a negative ACK says, unescaped for display. */
  errors?: AckErrorText[];
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

const decoder = new TextDecoder();

/** One message read from a file, ready to send. */
interface Outgoing {
  file: string;
  index: number;
  payload: Uint8Array;
  /** MSH-10 as written in the message. */
  controlId: string | undefined;
  /** The MSA-2 to wait for: MSH-10 when the message parses (else any answer is taken). */
  correlate: string | undefined;
  /** Why MLLP cannot carry it (a control byte in the content): reported, never sent. */
  unsendable?: string;
}

/**
 * Sends every message of every file in order; stops at the first timeout or closed connection.
 * Every file is read and split before connecting, so a missing or empty file sends nothing. A
 * message holding an MLLP control byte is reported `NOT-SENT`, never sent, and the others go on.
 */
export async function sendFiles(options: SendOptions): Promise<SendResult[]> {
  const outgoing = await readMessages(options.files);
  const results: SendResult[] = [];
  const skip = (m: Outgoing) => {
    const result: SendResult = {
      file: m.file,
      index: m.index,
      controlId: m.controlId,
      code: "NOT-SENT",
      notSent: m.unsendable!,
    };
    results.push(result);
    options.onResult?.(result);
  };
  // Those before the first sendable one are said before connecting (a refused connection ends
  // the run): when none can be sent, nothing connects.
  let first = 0;
  while (first < outgoing.length && outgoing[first]!.unsendable !== undefined) {
    skip(outgoing[first++]!);
  }
  if (first === outgoing.length) return results;
  let conn: Awaited<ReturnType<typeof connectMllp>>;
  try {
    conn = await connectMllp({ host: options.host, port: options.port }, {
      timeoutMs: 10_000,
      signal: new AbortController().signal,
    });
  } catch (error) {
    const reason = errorMessage(error);
    throw new Error(`cannot connect to ${options.host}:${options.port}: ${reason}`);
  }
  try {
    for (const message of outgoing.slice(first)) {
      if (message.unsendable !== undefined) {
        skip(message);
        continue;
      }
      const { file, index, payload, controlId, correlate } = message;
      let writeError: unknown;
      try {
        await conn.send(payload);
      } catch (error) {
        writeError = error;
      }
      const result = writeError === undefined
        ? await awaitAck(conn, correlate, options.timeoutMs ?? 30_000)
        : await answerAfterFailedWrite(conn, correlate, writeError);
      const { msa2, ...rest } = result;
      const full: SendResult = { file, index, controlId: controlId ?? msa2, ...rest };
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
      const reason = error instanceof Deno.errors.NotFound ? "no such file" : errorMessage(error);
      throw new Error(`cannot read ${file}: ${reason}`);
    }
    const decoded = decodeHl7(bytes);
    const batch = splitBatch(decoded.text);
    if (batch.messages.length === 0) {
      throw new Error(`${file}: no HL7 message (no MSH segment) found`);
    }
    for (const [index, message] of batch.messages.entries()) {
      // splitBatch ends a message at its last segment: its terminator is put back, and LF or
      // CRLF line ends (a file edited as text) become the CR that HL7 requires.
      const text = message.split(/\r\n|\r|\n/).join("\r") + "\r";
      const parsed = tryParseHl7(text);
      const correlate = parsed.ok ? parsed.message.controlId : undefined;
      // Re-encoded in the charset it was read in: the bytes of the file.
      const payload = encodeHl7(text, decoded.charset);
      const unsendable = controlByteProblem(payload, decoded.charset);
      outgoing.push({
        file,
        index: index + 1,
        payload,
        controlId: correlate ?? mshField(text, 10),
        correlate,
        ...(unsendable ? { unsendable } : {}),
      });
    }
  }
  return outgoing;
}

/**
 * Why MLLP cannot carry `payload` (a start or end block byte in it would end or restart the
 * frame at the receiver), named as the engine's own AR names it; undefined when it can.
 */
function controlByteProblem(payload: Uint8Array, charset: string): string | undefined {
  const at = firstControlByte(payload);
  if (at === -1) return undefined;
  const hex = payload[at]!.toString(16).toUpperCase().padStart(2, "0");
  const location = ASCII_SAFE_CHARSETS.has(charset) ? controlByteLocation(payload, at) : undefined;
  return `the message contains the MLLP control byte 0x${hex} at byte ${at}` +
    `${location ? ` (in ${location})` : ""}, which would corrupt framing; remove it from the file`;
}

/** MSH-`n` as written, read from the first line even when the message does not parse. */
function mshField(text: string, n: number): string | undefined {
  const line = text.slice(0, text.indexOf("\r"));
  if (!line.startsWith("MSH") || line.length < 4) return undefined;
  return line.split(line[3]!)[n - 1] || undefined;
}

/**
 * The peer stopped the write (it refused the message mid-way, e.g. over its size limit, and
 * closed): what it answered before closing is the result, else why the write failed.
 */
async function answerAfterFailedWrite(
  conn: Awaited<ReturnType<typeof connectMllp>>,
  controlId: string | undefined,
  writeError: unknown,
): Promise<{ code: string; ack?: string; msa2?: string; errors?: AckErrorText[] }> {
  const answer = await awaitAck(conn, controlId, AFTER_WRITE_ERROR_MS);
  if (answer.code !== "CLOSED" && answer.code !== "TIMEOUT") return answer;
  return {
    code: "CLOSED",
    ack: `the peer closed the connection while the message was being sent (${
      errorMessage(writeError)
    })`,
  };
}

/** How long an answer is waited for after a failed write (the peer has usually sent it). */
const AFTER_WRITE_ERROR_MS = 2_000;

async function awaitAck(
  conn: Awaited<ReturnType<typeof connectMllp>>,
  controlId: string | undefined,
  timeoutMs: number,
): Promise<{ code: string; ack?: string; msa2?: string; errors?: AckErrorText[] }> {
  const deadline = AbortSignal.timeout(timeoutMs);
  while (true) {
    const got = await conn.receive(deadline);
    if (got.type === "aborted") return { code: "TIMEOUT" };
    if (got.type === "closed") return { code: "CLOSED", ack: got.reason };
    const ack = decoder.decode(got.payload);
    const parsed = tryParseHl7(ack);
    if (!parsed.ok) return { code: "UNREADABLE", ack };
    const m = parsed.message;
    const answered = m.get("MSA-2");
    // A reply to another MSH-10 is stale. One with an empty MSA-2 answers the message in flight:
    // a peer that could not read MSH-10 (a frame over its size limit, discarded unread) sends it.
    if (controlId !== undefined && answered && answered !== controlId) continue;
    const code = m.get("MSA-1") ?? "NO-MSA";
    // get() decodes escapes: `\F\` in ERR-8 is shown as the `|` it stands for.
    const codes = m.getAll("ERR-3.1");
    const msa3 = m.get("MSA-3");
    const coded = (c: string | undefined) =>
      c ? { code: c, ...(HL70357[c] ? { name: HL70357[c] } : {}) } : {};
    const errors: AckErrorText[] = [];
    m.getAll("ERR-8").forEach((text, i) => {
      if (text) errors.push({ ...coded(codes[i]), text });
    });
    if (errors.length === 0 && msa3) errors.push({ ...coded(codes[0]), text: msa3 });
    return {
      code,
      ack,
      ...(answered ? { msa2: answered } : {}),
      ...(errors.length > 0 ? { errors } : {}),
    };
  }
}
