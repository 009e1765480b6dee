/**
 * X12 at intake (a file over SFTP, a body on `POST /endpoint`): parse without throwing on
 * envelope problems, check ISA15 against the environment, split into one interchange per
 * transaction set, and build the TA1 / 999 the sender asked for. Pure apart from the
 * acknowledgment numbers.
 *
 * - ISA15 `P` (production) is taken only by an integration or source of a production
 *   environment; `T` (test) and `I` (information) only by development and staging ones. A
 *   mismatch is a TA1 `R` with note `020` (invalid test indicator) and nothing of it is routed.
 * - A file whose envelopes are sound is split per transaction set (each piece a valid
 *   interchange, see `codecs/x12/split.ts`); one with an interchange or group problem is kept
 *   whole, and the application step fails it with the reason its TA1 / 999 gives.
 * @module
 */

import {
  buildAckInterchange,
  canSplitX12,
  type ContentErrorPolicy,
  parseX12,
  splitX12,
  type X12Document,
  type X12Interchange,
  X12ParseError,
} from "../../codecs/x12/mod.ts";
import { latin1Decode, latin1Encode } from "../../codecs/text/mod.ts";
import type { Config } from "../config/mod.ts";

/** What an integration or source asks of X12 intake (config `x12`). */
export interface X12IntakeSettings {
  acknowledge: boolean;
  contentErrors: ContentErrorPolicy;
}

/** The defaults when the config has no `x12`. */
export const NO_ACKS: X12IntakeSettings = { acknowledge: false, contentErrors: "reject" };

/** One message to store. */
export interface X12Message {
  bytes: Uint8Array;
  /** `ISA13/GS06/ST02` of a single set. */
  controlId?: string;
  /** ST01 (`837`). */
  messageType?: string;
}

/** The outcome of {@link takeInX12}. */
export interface X12IntakeResult {
  /** The messages to store, in file order (the whole file when it cannot be split). */
  messages: X12Message[];
  /** The parsed file, unless it could not be read at all. */
  doc?: X12Document;
  /** Why the file cannot be read as X12 at all (it is then stored whole). */
  unreadable?: string;
  /** The TA1 / 999 interchange(s) to send back, when asked for and possible. */
  acknowledgment?: string;
}

/** ISA13 of the acknowledgments: seconds since the epoch at start, then one more each. */
class AckNumbers {
  #next = Math.floor(Date.now() / 1000) % 1_000_000_000;
  /** The next control number (9 digits at most). */
  next(): number {
    const n = this.#next;
    this.#next = (this.#next + 1) % 1_000_000_000;
    return n === 0 ? this.next() : n;
  }
}

/** Shared by every intake of this process, so acknowledgments do not repeat a number. */
export const ackNumbers: AckNumbers = new AckNumbers();

/** The type (`development`, `staging`, `production`) of environment `id`. */
export function environmentType(config: Config, id: string): string | undefined {
  return config.environments.find((e) => e.id === id)?.type;
}

/**
 * Why an interchange with ISA15 `usage` may not enter `who` (in `environment` of `type`), or
 * undefined when it may.
 */
export function usageProblem(
  usage: string,
  who: string,
  environment: string,
  type: string | undefined,
): string | undefined {
  const production = type === "production";
  if (usage === "P" && !production) {
    return `ISA15 is "P" (production) but ${who} is in environment ${environment} ` +
      `(${type ?? "unknown"}): production interchanges go to a production environment`;
  }
  if (usage !== "P" && production) {
    return `ISA15 is "${usage}" (${usage === "T" ? "test" : "information"}) but ${who} is in ` +
      `environment ${environment} (production): send test interchanges to a development or ` +
      "staging environment";
  }
  return undefined;
}

/** Marks an interchange whose ISA15 does not fit the environment (TA1 note 020). */
function markUsage(ic: X12Interchange, reason: string): void {
  if (ic.issues.some((i) => i.ta1 === "020")) return;
  ic.issues.push({
    code: "BAD_ISA_ELEMENT",
    level: "interchange",
    ta1: "020",
    segmentIndex: ic.header.index,
    segmentId: "ISA",
    offset: ic.header.offset,
    element: 15,
    value: ic.usage,
    message: reason,
  });
}

/** Reads, checks, splits and acknowledges one X12 file or body; see the module doc. */
export function takeInX12(
  bytes: Uint8Array,
  options: {
    /** Who receives it, for the reasons: `integration lab-claims`. */
    who: string;
    environment: string;
    environmentType: string | undefined;
    settings: X12IntakeSettings;
  },
): X12IntakeResult {
  // Read one byte per character (true Latin-1, not the WHATWG label, which is windows-1252):
  // every piece's text is made of the file's characters, so it gives back the file's bytes.
  const text = latin1Decode(bytes);
  let doc: X12Document;
  try {
    doc = parseX12(text, { strict: false });
  } catch (error) {
    if (!(error instanceof X12ParseError)) throw error;
    return { messages: [{ bytes }], unreadable: error.message };
  }
  for (const ic of doc.interchanges) {
    const why = usageProblem(ic.usage, options.who, options.environment, options.environmentType);
    if (why) markUsage(ic, why);
  }
  const messages: X12Message[] = canSplitX12(doc)
    ? splitX12(doc).map((p) => ({
      bytes: latin1Encode(p.text),
      controlId: `${p.interchange.controlNumber}/${p.group.controlNumber}/` +
        p.transaction.controlNumber,
      messageType: p.transaction.setId,
    }))
    : [{ bytes }];
  const out: X12IntakeResult = { messages, doc };
  if (options.settings.acknowledge) {
    const acks = doc.interchanges.map((ic) =>
      buildAckInterchange(ic, {
        interchangeControlNumber: ackNumbers.next(),
        contentErrors: options.settings.contentErrors,
      })
    ).filter((a): a is string => a !== undefined);
    if (acks.length > 0) out.acknowledgment = acks.join("");
  }
  return out;
}

/** The name of the acknowledgment file answering `fileName`: `claims.x12` → `claims.999`. */
export function ackFileName(fileName: string, ack: string): string {
  const stem = fileName.replace(/\.[^./]{1,10}$/, "") || "interchange";
  return `${stem}.${/(^|[^A-Z0-9])ST.999/.test(ack) ? "999" : "ta1"}`;
}
