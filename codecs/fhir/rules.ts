/**
 * The FHIR mapping language: one table per resource says which data-model property lives at
 * which FHIR path, with the conversion between the two values. {@link toResource} and
 * {@link fromResource} (map.ts) walk the same table, so the two directions cannot drift apart,
 * exactly like the HL7 ⇄ data-model tables in `codecs/datamodel/rules.ts`.
 *
 * Vocabulary:
 * - `dm`: a dotted path relative to the data-model object the resource is made from
 *   (`Demographics.FirstName`), `""` for an array element itself (a list of strings);
 * - `fx`: a FHIR path relative to the resource (`name[0].given[1]`,
 *   `telecom[system=phone,use=home].value`; see fhir_path.ts).
 *
 * @module
 */

import type { JsonObject } from "../datamodel/json_path.ts";

/** What a conversion or a custom rule may need. */
export interface MapContext {
  /** IANA zone for HL7 times without offset met in values (OBX-5 of type DT/TS). */
  readonly timeZone: string;
  /** Identifier system of an HL7 assigning authority (`HOSP` → a URI), and back. */
  readonly idSystem: (idType: string) => string;
  /** The assigning authority an identifier system stands for. */
  readonly idType: (system: string) => string;
  /** `Meta.EventType` of the message (statuses by event). */
  readonly eventType: string;
  /** References to the message's main resources (`Patient`, `Encounter`), as written. */
  readonly refs: Readonly<Record<string, string>>;
  /** A resource of the bundle by its reference (`urn:uuid:…`, `Patient/1`), for reading. */
  readonly resolve: (reference: string) => JsonObject | undefined;
}

/** A value conversion: data model → FHIR and back; `undefined` means "nothing to write". */
export interface Conv {
  toFhir(value: unknown, ctx: MapContext): unknown;
  toDm(value: unknown, ctx: MapContext): unknown;
  /**
   * For a FHIR value `toDm` gave nothing for: why it is refused rather than dropped (a code
   * outside a required binding), or `undefined` to leave it out silently.
   */
  refuse?(value: unknown): string | undefined;
}

/** A rule that applies only to some objects (OBX value types). */
export interface When {
  /** Whether the rule applies to the data-model object being converted. */
  toFhir(obj: JsonObject, ctx: MapContext): boolean;
  /** Whether the rule applies to the resource (or element) being read. */
  toDm(res: JsonObject, ctx: MapContext): boolean;
}

/** One data-model property ⇄ one FHIR value. */
export interface PathRule {
  readonly kind: "path";
  readonly dm: string;
  readonly fx: string;
  readonly conv?: Conv;
  readonly when?: When;
}

/**
 * A data-model array ⇄ FHIR array elements: each element of the array at `dm` becomes one
 * element of the FHIR array at `fx`, carrying the `fixed` properties (which also select the
 * elements that belong here when reading: `telecom` with `system: "email"`).
 */
export interface EachRule {
  readonly kind: "each";
  readonly dm: string;
  readonly fx: string;
  readonly rules: readonly Rule[];
  readonly fixed?: Readonly<Record<string, unknown>>;
  /** Elements of the FHIR array that belong elsewhere (the SSN among identifiers). */
  readonly skip?: (element: JsonObject) => boolean;
  /** `dm` is one object (or `""`, the object itself), not an array: one element. */
  readonly single?: boolean;
}

/** A value the writer derives (a status by event, a fixed category); read back as nothing. */
export interface FixedRule {
  readonly kind: "fixed";
  readonly fx: string;
  readonly value: (obj: JsonObject, ctx: MapContext) => unknown;
}

/** Code for what a table cannot say as a path (a value[x] chosen by type, a contained resource). */
export interface FnRule {
  readonly kind: "fn";
  toFhir(obj: JsonObject, res: JsonObject, ctx: MapContext): void;
  toDm(res: JsonObject, obj: JsonObject, ctx: MapContext): void;
}

/** Any rule. */
export type Rule = PathRule | EachRule | FixedRule | FnRule;

/** The table of one resource type. */
export interface ResourceMap {
  readonly resourceType: string;
  readonly rules: readonly Rule[];
  /** The profile claimed in `meta.profile` (a US Core profile), checked by the tests. */
  readonly profile?: string;
}

/** A path rule. */
export function path(dm: string, fx: string, conv?: Conv, when?: When): PathRule {
  return { kind: "path", dm, fx, ...(conv ? { conv } : {}), ...(when ? { when } : {}) };
}

/** An array rule. */
export function each(
  dm: string,
  fx: string,
  rules: readonly Rule[],
  options: {
    fixed?: Record<string, unknown>;
    skip?: (e: JsonObject) => boolean;
    single?: boolean;
  } = {},
): EachRule {
  return { kind: "each", dm, fx, rules, ...(dm === "" ? { single: true } : {}), ...options };
}

/** A fixed (derived) value. */
export function fixed(fx: string, value: (obj: JsonObject, ctx: MapContext) => unknown): FixedRule {
  return { kind: "fixed", fx, value };
}

/** Prefixes the `dm` of path rules with an object path. */
export function dmUnder(prefix: string, rules: readonly Rule[]): Rule[] {
  return rules.map((r) =>
    r.kind === "path" || r.kind === "each"
      ? { ...r, dm: r.dm === "" ? prefix : `${prefix}.${r.dm}` }
      : r
  );
}

/** Prefixes the `fx` of path rules with a FHIR path. */
export function fxUnder(prefix: string, rules: readonly Rule[]): Rule[] {
  return rules.map((r) =>
    r.kind === "path" || r.kind === "each" || r.kind === "fixed"
      ? { ...r, fx: r.fx === "" ? prefix : `${prefix}.${r.fx}` }
      : r
  );
}

/** Restricts rules to the objects a condition admits. */
export function onlyWhen(when: When, rules: readonly PathRule[]): PathRule[] {
  return rules.map((r) => ({ ...r, when }));
}
