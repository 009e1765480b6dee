/**
 * HL7 SN (structured numeric) and XTN phone numbers as one text each, for the data model's
 * `Value` of an SN result and its phone numbers sent the v2.5 way (XTN-5/6/7/8).
 *
 * @module
 */

import type { SegmentView } from "./rules.ts";

/** A number as SN writes it. */
const NUM = String.raw`-?(?:\d+(?:\.\d*)?|\.\d+)`;

/** `>500`, `<=5`, `10-20`, `2:3`, `2+`: comparator, number, separator or suffix, number. */
const SN = new RegExp(`^(<>|<=|>=|<|>|=)?(${NUM})?(?:([-+/.:])(${NUM})?)?$`);

/** The parts of an SN text. */
export interface StructuredNumber {
  /** `>`, `<`, `>=`, `<=`, `=`, `<>` (SN.1). */
  readonly comparator?: string;
  /** SN.2. */
  readonly num1?: number;
  /** `-`, `+`, `/`, `.`, `:` (SN.3). */
  readonly separator?: string;
  /** SN.4. */
  readonly num2?: number;
}

/**
 * The SN components (1-4, trailing empty ones left out) of a text such as `>500` or `10-20`, or
 * `undefined` when the text is not an SN value (then it travels as text in component 1).
 */
export function snComponents(text: string): string[] | undefined {
  const m = SN.exec(text);
  if (m === null || (m[2] === undefined && m[4] === undefined)) return undefined;
  const comps = [m[1] ?? "", m[2] ?? "", m[3] ?? "", m[4] ?? ""];
  while (comps.length > 0 && comps[comps.length - 1] === "") comps.pop();
  return comps;
}

/** The parts of an SN text (numbers as numbers), or `undefined` when it is not one. */
export function parseSn(text: string): StructuredNumber | undefined {
  const c = snComponents(text);
  if (c === undefined) return undefined;
  const out: { -readonly [K in keyof StructuredNumber]: StructuredNumber[K] } = {};
  if (c[0]) out.comparator = c[0];
  if (c[1]) out.num1 = Number(c[1]);
  if (c[2]) out.separator = c[2];
  if (c[3]) out.num2 = Number(c[3]);
  return out;
}

/**
 * A phone number of an XTN repetition sent the v2.5 way, in the form the codec writes phone
 * numbers (`(312)555-1212`): country code XTN-5 as `+1 `, area code XTN-6 in parentheses, the
 * local number XTN-7 (seven digits get a hyphen), extension XTN-8 as `X123`. `undefined` when
 * XTN-7 is empty.
 */
export function xtnNumber(rep: SegmentView): string | undefined {
  const local = rep.text("7")?.trim();
  if (local === undefined || local === "") return undefined;
  const country = rep.text("5")?.trim(), area = rep.text("6")?.trim();
  const ext = rep.text("8")?.trim();
  const number = /^\d{7}$/.test(local) ? `${local.slice(0, 3)}-${local.slice(3)}` : local;
  return `${country ? `+${country.replace(/^\+/, "")} ` : ""}${area ? `(${area})` : ""}${number}${
    ext ? `X${ext}` : ""
  }`;
}

/** The components {@link xtnNumber} reads. */
export const XTN_NUMBER_PARTS: readonly string[] = ["5", "6", "7", "8"];
