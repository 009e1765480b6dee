/**
 * Streaming over large X12 files: bytes are decoded and split as they arrive, and each
 * transaction set is handed out as soon as its SE is read, so that a 30 MB 837 batch is never
 * held whole (only the transaction set being read and the envelope headers are in memory).
 *
 * @module
 */

import {
  EnvelopeReader,
  type X12Group,
  type X12Interchange,
  type X12Transaction,
} from "./envelope.ts";
import type { X12Issue } from "./errors.ts";
import { X12Tokenizer } from "./tokenize.ts";

/** One item of {@link streamX12}, in input order. */
export type X12StreamItem =
  | {
    /** A transaction set ended. */
    readonly kind: "transaction";
    readonly transaction: X12Transaction;
    readonly group: X12Group;
    readonly interchange: X12Interchange;
  }
  | {
    /** A functional group ended (its `transactions` list is empty; counts are filled). */
    readonly kind: "group";
    readonly group: X12Group;
    readonly interchange: X12Interchange;
  }
  | {
    /** An interchange ended, with its envelope issues. */
    readonly kind: "interchange";
    readonly interchange: X12Interchange;
  }
  | {
    /** A segment outside any interchange. */
    readonly kind: "orphan";
    readonly issue: X12Issue;
  };

/** Options of {@link streamX12}. */
export interface StreamX12Options {
  /** Text encoding of byte chunks (default `utf-8`; X12's extended character set fits it). */
  readonly encoding?: string;
}

/**
 * Reads X12 from a stream of byte or text chunks and yields transactions, groups and
 * interchanges as they complete. Throws {@link X12ParseError} as soon as the text cannot be read.
 */
export async function* streamX12(
  source:
    | AsyncIterable<Uint8Array | string>
    | Iterable<Uint8Array | string>
    | ReadableStream<Uint8Array>,
  options: StreamX12Options = {},
): AsyncGenerator<X12StreamItem> {
  const decoder = new TextDecoder(options.encoding ?? "utf-8");
  const tokenizer = new X12Tokenizer();
  const pending: X12StreamItem[] = [];
  const reader = new EnvelopeReader({
    transaction: (transaction, group, interchange) =>
      pending.push({ kind: "transaction", transaction, group, interchange }),
    group: (group, interchange) => pending.push({ kind: "group", group, interchange }),
    interchange: (interchange) => pending.push({ kind: "interchange", interchange }),
    orphan: (issue) => pending.push({ kind: "orphan", issue }),
  }, { keepTransactions: false });
  for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
    const text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    for (const seg of tokenizer.push(text)) reader.feed(seg);
    while (pending.length > 0) yield pending.shift()!;
  }
  for (const seg of tokenizer.push(decoder.decode())) reader.feed(seg);
  for (const seg of tokenizer.finish()) reader.feed(seg);
  reader.end();
  while (pending.length > 0) yield pending.shift()!;
}
