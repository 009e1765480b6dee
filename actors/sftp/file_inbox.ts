/**
 * The communication step for files (polled over SFTP or uploaded to the hosted folder): store a
 * file durably before the transport archives it. An HL7v2 batch (FHS/BHS envelopes or bare
 * concatenated MSH messages) becomes one message per MSH, each routed like an MLLP message;
 * anything else (X12, C-CDA, PDF…) travels as one message with its name, type and SHA-256.
 *
 * Every message is deduplicated on the file's SHA-256 and its index in the file, so a file
 * downloaded again after a crash between storing and archiving is recognised and not enqueued
 * twice. Rejects when the store fails: the caller must then leave the file where it is.
 * @module
 */

import { splitBatch, tryParseHl7 } from "../../codecs/hl7v2/mod.ts";
import { decodeHl7Bytes } from "../../codecs/hl7v2/mod.ts";
import { latin1Decode, latin1Encode } from "../../codecs/text/mod.ts";
import type { Logger } from "../runtime/log.ts";
import type { AcceptRequest, AcceptResult, Store } from "../store/store.ts";
import { INLINE_MAX } from "../store/payloads.ts";
import { FileTooLargeError } from "./connector.ts";
import { guessContentType, looksLikeHl7 } from "../../codecs/files/mod.ts";
import type { Config } from "../config/mod.ts";
import { ackFileName, environmentType, NO_ACKS, takeInX12 } from "../engine/x12_intake.ts";

const X12_TYPE = "application/edi-x12";

/** The inbound queue (and actor identity) of a file-fed integration: `sftp:<integrationId>`. */
export function fileQueueId(integrationId: string): string {
  return `sftp:${integrationId}`;
}

/** What a {@link FileInbox} needs. */
export interface FileInboxOptions {
  store: Store;
  log: Logger;
  /** How long a file's content is remembered for deduplication (config `limits`). */
  dedupeWindowSeconds: number;
  /** Charset for unlabelled non-UTF-8 HL7 (config `limits.fallbackCharset`). */
  fallbackCharset: string;
  /** Largest file taken in (config `limits.maxHl7Bytes`). */
  maxFileBytes: number;
  /** Wakes the integration's inbound actor once its queue has new messages. */
  notify(queue: string): void;
  /** The config: integrations' `x12` settings and environment types (X12 intake). */
  config?: Config;
}

/** The integration a file is for. */
export interface FileIntegration {
  id: string;
  environment: string;
}

/** One received file. */
export interface ReceivedFile {
  integration: FileIntegration;
  /** The file's name (no folder), kept on every message made from it. */
  fileName: string;
  bytes: Uint8Array;
  /** Who sent it: `user@host:port` polled, or the uploader's address. */
  peer: string;
}

/** What became of a file. */
export interface FileInboxResult {
  queue: string;
  sha256: string;
  contentType: string;
  /** Messages found in the file (1 for a non-HL7 file). */
  messages: number;
  stored: number;
  duplicates: number;
  /** The TA1 / 999 answering an X12 file, to leave where the sender picks it up. */
  acknowledgment?: { fileName: string; bytes: Uint8Array };
}

/** Concurrent accepts per group commit window (they share fsyncs). */
const WINDOW = 256;
const HL7 = "application/hl7-v2";
const CR = 0x0d;
const LF = 0x0a;

/** See the module doc. */
export class FileInbox {
  readonly #options: FileInboxOptions;

  /** An inbox writing to `options.store`. */
  constructor(options: FileInboxOptions) {
    this.#options = options;
  }

  /** Stores the file's message(s) durably; see the module doc. */
  async ingest(file: ReceivedFile): Promise<FileInboxResult> {
    const { log } = this.#options;
    if (file.bytes.length > this.#options.maxFileBytes) {
      throw new FileTooLargeError(file.fileName, file.bytes.length, this.#options.maxFileBytes);
    }
    const queue = fileQueueId(file.integration.id);
    const sha256 = await sha256Hex(file.bytes);
    const contentType = looksLikeHl7(file.bytes)
      ? HL7
      : guessContentType(file.fileName, file.bytes);
    let acknowledgment: FileInboxResult["acknowledgment"];
    let requests: AcceptRequest[];
    if (contentType === HL7) requests = this.#hl7Requests(file, queue, sha256);
    else if (contentType === X12_TYPE) {
      const x12 = this.#x12Requests(file, queue, sha256);
      requests = x12.requests;
      acknowledgment = x12.acknowledgment;
    } else {
      requests = [this.#request(file, queue, sha256, 0, {
        payload: file.bytes,
        contentType,
        sha256,
      })];
    }
    const results = await this.#acceptInOrder(requests);
    const stored = results.filter((r) => r.status === "stored").length;
    const result: FileInboxResult = {
      queue,
      sha256,
      contentType: requests[0]?.contentType ?? HL7,
      messages: requests.length,
      stored,
      duplicates: results.length - stored,
      ...(acknowledgment ? { acknowledgment } : {}),
    };
    log.info("sftp.file-stored", {
      integration: file.integration.id,
      file: file.fileName,
      peer: file.peer,
      bytes: file.bytes.length,
      sha256,
      messages: result.messages,
      stored,
      duplicates: result.duplicates,
    });
    if (stored > 0) this.#options.notify(queue);
    return result;
  }

  /**
   * An X12 file: one message per transaction set (the whole file when its envelopes are broken),
   * and the TA1 / 999 when the integration's `x12.acknowledge` asks for them.
   */
  #x12Requests(file: ReceivedFile, queue: string, sha256: string): {
    requests: AcceptRequest[];
    acknowledgment?: { fileName: string; bytes: Uint8Array };
  } {
    const config = this.#options.config;
    const integration = config?.integrations.find((i) => i.id === file.integration.id);
    const taken = takeInX12(file.bytes, {
      who: `integration ${file.integration.id}`,
      environment: file.integration.environment,
      environmentType: config ? environmentType(config, file.integration.environment) : undefined,
      settings: integration?.x12 ?? NO_ACKS,
    });
    if (taken.unreadable) {
      this.#options.log.warn("sftp.x12-unreadable", {
        integration: file.integration.id,
        file: file.fileName,
        reason: taken.unreadable,
      });
    }
    const whole = taken.messages.length === 1 && taken.messages[0]!.bytes === file.bytes;
    const requests = taken.messages.map((m, index) =>
      this.#request(file, queue, sha256, index, {
        payload: m.bytes,
        contentType: X12_TYPE,
        ...(whole ? { sha256 } : {}),
        ...(m.controlId ? { controlId: m.controlId } : {}),
        ...(m.messageType ? { messageType: m.messageType } : {}),
      })
    );
    const ack = taken.acknowledgment;
    return {
      requests,
      ...(ack
        ? {
          acknowledgment: { fileName: ackFileName(file.fileName, ack), bytes: latin1Encode(ack) },
        }
        : {}),
    };
  }

  #hl7Requests(file: ReceivedFile, queue: string, sha256: string): AcceptRequest[] {
    // Read one byte per character (true Latin-1, not the WHATWG label, which is windows-1252):
    // the spans splitBatch finds are byte offsets, and each message is cut from the file's own
    // bytes whatever its charset (HL7 delimiters and segment names are ASCII).
    const batch = splitBatch(latin1Decode(file.bytes));
    for (const warning of batch.warnings.slice(0, 5)) {
      this.#options.log.warn("sftp.batch-warning", {
        integration: file.integration.id,
        file: file.fileName,
        code: warning.code,
        reason: warning.message,
      });
    }
    if (batch.messages.length === 0) {
      this.#options.log.warn("sftp.batch-empty", {
        integration: file.integration.id,
        file: file.fileName,
        reason: "the file has an HL7 envelope but no MSH message",
      });
    }
    return batch.spans.map((span, index) => {
      const payload = segmentsEndingInCr(file.bytes.subarray(span.start, span.end));
      const parsed = tryParseHl7(decodeHl7Bytes(payload, this.#options.fallbackCharset));
      const msg = parsed.ok ? parsed.message : undefined;
      const messageType = msg
        ? [msg.messageType, msg.triggerEvent].filter(Boolean).join("^")
        : undefined;
      return this.#request(file, queue, sha256, index, {
        payload,
        contentType: HL7,
        ...(msg?.controlId ? { controlId: msg.controlId } : {}),
        ...(messageType ? { messageType } : {}),
      });
    });
  }

  #request(
    file: ReceivedFile,
    queue: string,
    sha256: string,
    index: number,
    fields: Pick<AcceptRequest, "payload" | "contentType" | "controlId" | "messageType" | "sha256">,
  ): AcceptRequest {
    return {
      queue,
      origin: { kind: "integration", id: file.integration.id, peer: file.peer },
      fileName: file.fileName,
      ...fields,
      dedupe: {
        scope: file.integration.id,
        key: `file:${sha256}:${index}`,
        ack: "",
        windowMs: this.#options.dedupeWindowSeconds * 1000,
      },
      log: {
        type: "RECEIVE",
        integrationId: file.integration.id,
        environment: file.integration.environment,
      },
    };
  }

  /**
   * Accepts in file order. Small messages go in windows of concurrent accepts (queue positions
   * are taken in call order and they share group commits); a large one, which the store looks
   * up before writing its chunks, goes alone so it cannot overtake.
   */
  async #acceptInOrder(requests: AcceptRequest[]): Promise<AcceptResult[]> {
    const results: AcceptResult[] = [];
    let i = 0;
    while (i < requests.length) {
      const window: AcceptRequest[] = [];
      while (i < requests.length && window.length < WINDOW) {
        const large = requests[i]!.payload.length > INLINE_MAX;
        if (large && window.length > 0) break;
        window.push(requests[i++]!);
        if (large) break;
      }
      const settled = await Promise.allSettled(window.map((r) => this.#options.store.accept(r)));
      for (const s of settled) {
        if (s.status === "rejected") throw s.reason;
        results.push(s.value);
      }
    }
    return results;
  }
}

/**
 * A message cut from a file, as MLLP carries it: every segment ends with CR. Files often end lines
 * with CRLF or LF, which MLLP receivers may refuse, and `splitBatch` ends a message at its last
 * segment, without the terminator, which is put back (as `main.ts send` does). Every other byte is
 * kept as it is.
 */
function segmentsEndingInCr(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === CR && bytes[i + 1] === LF) continue; // CRLF: its LF becomes the CR
    out[n++] = b === LF ? CR : b;
  }
  out[n++] = CR;
  return n === out.length ? out : out.slice(0, n);
}

/** Lower-case hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
