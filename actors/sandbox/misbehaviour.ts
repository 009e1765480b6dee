/**
 * Misbehaviour on request, for testing how a developer's integration copes: a share of NACKs,
 * slow acknowledgments, dropped connections and duplicate sends. Draws come from a seeded stream,
 * so a run with the same settings misbehaves the same way; shares of 0 and 1 are exact.
 *
 * @module
 */

import { Rng } from "../../codecs/synthetic/mod.ts";

/** What to get wrong, and how often (shares from 0 to 1). */
export interface Misbehaviour {
  /** Share of received messages answered `AE` (HTTP `500`) instead of being accepted. */
  readonly nackShare: number;
  /** Share of received messages whose answer waits {@link Misbehaviour.slowAckMs}. */
  readonly slowShare: number;
  /** How long a slow answer waits, in ms. */
  readonly slowAckMs: number;
  /** Share of received messages whose connection is closed without an answer. */
  readonly dropShare: number;
  /** Share of sent messages sent twice (same MSH-10). */
  readonly duplicateShare: number;
}

/** Behaving well. */
export const WELL_BEHAVED: Misbehaviour = {
  nackShare: 0,
  slowShare: 0,
  slowAckMs: 0,
  dropShare: 0,
  duplicateShare: 0,
};

/** What to do with one received message. */
export type Reaction = "accept" | "nack" | "drop";

/** Problems with a requested misbehaviour (`nackShare: must be between 0 and 1`), or none. */
export function checkMisbehaviour(m: Partial<Record<keyof Misbehaviour, unknown>>): string[] {
  const problems: string[] = [];
  for (const k of ["nackShare", "slowShare", "dropShare", "duplicateShare"] as const) {
    const v = m[k];
    if (v !== undefined && (typeof v !== "number" || !(v >= 0 && v <= 1))) {
      problems.push(`${k}: must be a number between 0 and 1`);
    }
  }
  const ms = m.slowAckMs;
  if (ms !== undefined && (typeof ms !== "number" || !(ms >= 0 && ms <= 600_000))) {
    problems.push("slowAckMs: must be a number of milliseconds between 0 and 600000");
  }
  return problems;
}

/** The draws of one misbehaving party. */
export class Mischief {
  #m: Misbehaviour = WELL_BEHAVED;
  readonly #rng: Rng;

  /** Draws from `seed`. */
  constructor(seed: string) {
    this.#rng = new Rng(`mischief:${seed}`);
  }

  /** The current settings. */
  get settings(): Misbehaviour {
    return this.#m;
  }

  /** Changes some settings (the rest stay); throws on a value out of range. */
  set(m: Partial<Misbehaviour>): Misbehaviour {
    const problems = checkMisbehaviour(m);
    if (problems.length > 0) throw new RangeError(problems.join("; "));
    this.#m = { ...this.#m, ...m };
    return this.#m;
  }

  #draw(share: number): boolean {
    return share >= 1 || (share > 0 && this.#rng.next() < share);
  }

  /** What to do with the next received message. */
  react(): Reaction {
    if (this.#draw(this.#m.dropShare)) return "drop";
    if (this.#draw(this.#m.nackShare)) return "nack";
    return "accept";
  }

  /** How long to wait before answering the next message (0: at once). */
  delayMs(): number {
    return this.#draw(this.#m.slowShare) ? this.#m.slowAckMs : 0;
  }

  /** Whether to send the next message twice. */
  duplicate(): boolean {
    return this.#draw(this.#m.duplicateShare);
  }
}
