/**
 * The JSON form of X12, for routing filters, modifiers and destinations that take JSON.
 *
 * A loop is an object: `loop` (its ID) and `name`, then each segment under its ID with elements
 * named by reference designator (`{"NM101": "IL", "NM109": "123456789"}`), then each child loop
 * ID holding an array of occurrences. A segment that occurs more than once in one loop occurrence
 * is an array. Empty elements are left out; an element with components is an array of them, and
 * one with repetitions an array of those.
 *
 * ```json
 * {"loop": "2010BA", "name": "Subscriber Name", "NM1": {"NM101": "IL", "NM109": "123456789"}}
 * ```
 *
 * @module
 */

import type { X12Group, X12Interchange, X12Transaction } from "./envelope.ts";
import { buildLoops, type X12Loop } from "./loops/build.ts";
import type { X12Segment } from "./segment.ts";

/** A JSON value of the X12 form. */
export type X12Json = string | X12Json[] | { [key: string]: X12Json };

function elementJson(seg: X12Segment, value: string): X12Json {
  const { repetition, component } = seg.separators;
  const split = (v: string): X12Json => v.includes(component) ? v.split(component) : v;
  if (repetition !== undefined && seg.id !== "ISA" && value.includes(repetition)) {
    return value.split(repetition).map(split);
  }
  return seg.id === "ISA" ? value : split(value);
}

/** One segment as `{ "NM101": ..., "NM103": ... }` (empty elements left out). */
export function segmentJson(seg: X12Segment): { [key: string]: X12Json } {
  const out: { [key: string]: X12Json } = {};
  for (let i = 1; i < seg.elements.length; i++) {
    const v = seg.elements[i]!;
    if (v !== "") out[`${seg.id}${i < 10 ? "0" : ""}${i}`] = elementJson(seg, v);
  }
  return out;
}

/** One loop occurrence and its children. */
export function loopJson(l: X12Loop): { [key: string]: X12Json } {
  const out: { [key: string]: X12Json } = { loop: l.id, name: l.name };
  for (const seg of l.segments) {
    const v = segmentJson(seg);
    const prev = out[seg.id];
    if (prev === undefined) out[seg.id] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[seg.id] = [prev, v];
  }
  for (const c of l.loops) {
    const list = (out[c.id] ??= []) as X12Json[];
    list.push(loopJson(c));
  }
  return out;
}

/** A transaction set with its loops, and its envelope identifiers. */
export function transactionJson(
  tx: X12Transaction,
  group?: X12Group,
  interchange?: X12Interchange,
): { [key: string]: X12Json } {
  const tree = buildLoops(tx);
  const out: { [key: string]: X12Json } = {
    transactionSet: tx.setId,
    implementation: tx.implementation,
    ...(tree.def ? { type: tree.def.name } : {}),
    controlNumber: tx.controlNumber,
  };
  if (group) {
    out.group = {
      functionalId: group.functionalId,
      sender: group.sender,
      receiver: group.receiver,
      controlNumber: group.controlNumber,
      version: group.version,
    };
  }
  if (interchange) {
    out.interchange = {
      sender: interchange.sender.id,
      senderQualifier: interchange.sender.qualifier,
      receiver: interchange.receiver.id,
      receiverQualifier: interchange.receiver.qualifier,
      controlNumber: interchange.controlNumber,
      usage: interchange.usage,
    };
  }
  out.loops = loopJson(tree.root);
  return out;
}
