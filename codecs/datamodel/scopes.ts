/**
 * Which scope a segment belongs to while reading: a stack of open scopes (the message, then
 * group instances), each knowing which of its segments it has seen.
 *
 * @module
 */

import type { Hl7Extension } from "./extensions.ts";
import type { JsonObject } from "./json_path.ts";
import type { GroupMap, ScopeItem } from "./rules.ts";

/** One open scope: the message, or one instance of a group. */
export interface Frame {
  /** The scope's segments and groups. */
  readonly items: readonly ScopeItem[];
  /** The scope's JSON object. */
  readonly obj: JsonObject;
  /** Position of this group instance in its array (0 for the message). */
  readonly index: number;
  /** The group's anchor and lead segments (a lead after the anchor opens a new instance). */
  readonly anchor: string | undefined;
  readonly lead: readonly string[] | undefined;
  anchorSeen: boolean;
  /** Mapped segments seen per ID, and instances opened per child group. */
  readonly seen: Map<string, number>;
  readonly groups: Map<GroupMap, number>;
  /** Key of the last mapped segment (`After` of an unmapped one that follows). */
  last: string;
  /** The scope's `Extensions.HL7v2`, once created. */
  ext: Hl7Extension | undefined;
}

/** A new scope over `obj`; `g` and `index` for a group instance. */
export function newFrame(
  items: readonly ScopeItem[],
  obj: JsonObject,
  g?: GroupMap,
  index = 0,
): Frame {
  return {
    items,
    obj,
    index,
    anchor: g?.anchor,
    lead: g?.lead,
    anchorSeen: false,
    seen: new Map(),
    groups: new Map(),
    last: "",
    ext: undefined,
  };
}

/** The item of a frame that takes a segment, if any. */
export function handler(frame: Frame, name: string): ScopeItem | undefined {
  for (const item of frame.items) {
    if (item.kind === "segment") {
      if (item.seg !== name) continue;
      if (frame.lead?.includes(name) && frame.anchorSeen) return undefined;
      if (item.many || !frame.seen.has(name)) return item;
      return undefined;
    }
    if (item.anchor === name || item.lead?.includes(name)) {
      if (item.many || !frame.groups.has(item)) return item;
    }
  }
  return undefined;
}
