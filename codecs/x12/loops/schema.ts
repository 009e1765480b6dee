/**
 * How a transaction set's loops are described: a loop starts at a trigger segment (optionally
 * with a qualifier in one of its elements, e.g. `NM1` with NM101 `IL`), holds a list of segments
 * and child loops. Hierarchical (HL) loops are triggered by HL03, the hierarchical level code.
 *
 * The definitions are written in a compact form: `loop("2010BA", "Subscriber Name", "NM1:1=IL",
 * "N3 N4 DMG REF PER", [...children])`; a `!` before a segment or loop ID marks it required.
 *
 * @module
 */

/** The segment (and optional element values) that starts a loop. */
export interface LoopTrigger {
  /** Segment ID. */
  readonly segment: string;
  /** 1-based element holding the qualifier, when the trigger is qualified. */
  readonly element?: number;
  /** Qualifier values that start this loop. */
  readonly values?: readonly string[];
}

/** One segment a loop may hold. */
export interface SegmentSlot {
  /** Segment ID. */
  readonly segment: string;
  /** Required by the implementation guide (missing → 999 IK3 code 3). */
  readonly required: boolean;
}

/** One loop of an implementation guide. */
export interface LoopDef {
  /** Loop ID as in the guide (`2010BA`), or `header` for the transaction set level. */
  readonly id: string;
  /** Loop name as in the guide. */
  readonly name: string;
  /** What starts it. */
  readonly trigger: LoopTrigger;
  /** Required in its parent. */
  readonly required: boolean;
  /** Segments after the trigger. */
  readonly segments: readonly SegmentSlot[];
  /** Child loops. */
  readonly loops: readonly LoopDef[];
}

/** One transaction set of one implementation guide. */
export interface TransactionDef {
  /** Short name (`837P`, `835`...). */
  readonly name: string;
  /** Transaction set identifier code (ST01). */
  readonly setId: string;
  /** Implementation guide reference prefixes (GS08 / ST03) it applies to; empty: any. */
  readonly implementations: readonly string[];
  /** Title of the guide. */
  readonly title: string;
  /** The transaction set level: its segments and top-level loops (ST and SE included). */
  readonly header: LoopDef;
}

/** Parses `SEG` or `SEG:E=V1,V2` into a trigger. */
export function trigger(spec: string): LoopTrigger {
  const [segment, qual] = spec.split(":") as [string, string | undefined];
  if (qual === undefined) return { segment };
  const [el, values] = qual.split("=") as [string, string];
  return { segment, element: Number(el), values: values.split(",") };
}

function slots(spec: string): SegmentSlot[] {
  return spec.split(/\s+/).filter((s) => s !== "").map((s) =>
    s.startsWith("!") ? { segment: s.slice(1), required: true } : { segment: s, required: false }
  );
}

/** Defines a loop: `id` (`!` prefix when required), name, trigger, segments and child loops. */
export function loop(
  id: string,
  name: string,
  triggerSpec: string,
  segmentSpec = "",
  loops: readonly LoopDef[] = [],
): LoopDef {
  const required = id.startsWith("!");
  return {
    id: required ? id.slice(1) : id,
    name,
    trigger: trigger(triggerSpec),
    required,
    segments: slots(segmentSpec),
    loops,
  };
}

/** Defines a hierarchical loop started by `HL` with HL03 in `levels`. */
export function hl(
  id: string,
  name: string,
  levels: string,
  segmentSpec = "",
  loops: readonly LoopDef[] = [],
): LoopDef {
  return loop(id, name, `HL:3=${levels}`, segmentSpec, loops);
}

/** Defines a transaction set: its header segments (after ST, before SE) and top-level loops. */
export function transaction(
  name: string,
  setId: string,
  implementations: readonly string[],
  title: string,
  segmentSpec: string,
  loops: readonly LoopDef[],
): TransactionDef {
  return {
    name,
    setId,
    implementations,
    title,
    header: loop("header", title, "ST", `${segmentSpec} SE`, loops),
  };
}

/** Whether `values[n]` of a segment's elements satisfy a trigger. */
export function triggers(t: LoopTrigger, elements: readonly string[]): boolean {
  if (elements[0] !== t.segment) return false;
  if (t.element === undefined) return true;
  return t.values!.includes(elements[t.element] ?? "");
}
