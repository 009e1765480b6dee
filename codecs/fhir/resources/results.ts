/**
 * Results (ORU^R01): an order → DiagnosticReport, each result → Observation with value[x]
 * chosen by OBX-2 (the data model's `ValueType`).
 *
 * @module
 */

import { DIAGNOSTIC_REPORT_STATUS, OBSERVATION_STATUS } from "../bindings.ts";
import { isObject, type JsonObject } from "../../datamodel/json_path.ts";
import { ABNORMAL_FLAG } from "../../datamodel/models/results.ts";
import { parseSn } from "../../datamodel/structured.ts";
import { tryHl7ToIso, tryIsoToHl7 } from "../../time/mod.ts";
import {
  code,
  type Conv,
  dateTime,
  instant,
  LOCAL_ID_SYSTEM,
  mimeType,
  num,
  number,
  str,
  UCUM,
  v2Concept,
} from "../codes.ts";
import { dmUnder, each, fixed, type FnRule, path, type ResourceMap, type When } from "../rules.ts";
import { concept, practitioner, refTo } from "./common.ts";

/** Placer and filler order numbers (ORC-2/OBR-2, ORC-3/OBR-3). */
export const PLACER_SYSTEM = `${LOCAL_ID_SYSTEM}placer-order`;
/** The filler order number's identifier system. */
export const FILLER_SYSTEM = `${LOCAL_ID_SYSTEM}filler-order`;

/** The R5 Observation.value as an R4 extension: how encapsulated data (ED) travels. */
export const OBSERVATION_ATTACHMENT =
  "http://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.value";

/** HL7 0085 (data-model words) ⇄ Observation.status. */
const RESULT_STATUS = code([
  ["Final", "final"],
  ["Preliminary", "preliminary"],
  ["Corrected", "corrected"],
  ["Canceled", "cancelled"],
  ["Deleted", "entered-in-error"],
  ["Incomplete", "registered"],
  ["Unverified", "preliminary"],
  // Read only: an amended result is a corrected one in HL7 (OBX-11 C).
  ["Corrected", "amended"],
], { otherwise: "unknown", required: OBSERVATION_STATUS });

/** HL7 0123 (data-model words) ⇄ DiagnosticReport.status. */
const REPORT_STATUS = code([
  ["Final", "final"],
  ["Preliminary", "preliminary"],
  ["Corrected", "corrected"],
  ["Canceled", "cancelled"],
  ["Partial", "partial"],
  ["Scheduled", "registered"],
  ["Incomplete", "registered"],
  ["Unverified", "preliminary"],
  // Read only: an amended or appended report is a corrected one in HL7 (OBR-25 C).
  ["Corrected", "amended"],
  ["Corrected", "appended"],
], { otherwise: "unknown", required: DIAGNOSTIC_REPORT_STATUS });

/** An HL7 DT/DTM text (OBX-5 of type DT, TS, DTM) ⇄ FHIR dateTime, in the facility's zone. */
const hl7Time: Conv = {
  toFhir: (v, ctx) => {
    if (typeof v !== "string") return undefined;
    const r = tryHl7ToIso(v, { timeZone: ctx.timeZone, alwaysSeconds: true });
    return r.ok ? r.value : undefined;
  },
  toDm: (v, ctx) => {
    if (typeof v !== "string") return undefined;
    const r = tryIsoToHl7(v, { timeZone: ctx.timeZone });
    return r.ok ? r.value : undefined;
  },
};

function valueType(...types: string[]): When {
  return {
    toFhir: (o) => types.includes(String(o.ValueType ?? "")),
    toDm: () => true,
  };
}

/** `<5`, `>= 10`: a comparator FHIR's Quantity carries, then a number. */
const COMPARED = /^\s*(<=|>=|<|>)\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*$/;

/**
 * Whether a Numeric result's value fits a Quantity: none, a number, or a comparator and a number.
 * Anything else (`12,5`, `POS`) is a valueString, never a Quantity without its value.
 */
function quantityValue(o: JsonObject): boolean {
  const v = o.Value;
  return v == null || num.toFhir(v, undefined as never) !== undefined ||
    (typeof v === "string" && COMPARED.test(v));
}

/** The FHIR form of a Structured Numeric (SN) result's value, `undefined` for valueString. */
type SnForm = "quantity" | "range" | "ratio";

/**
 * `>500`, `<=5`, `7` → a Quantity (with its comparator); `10-20` → a Range; `2:3` or `1/128`
 * → a Ratio; anything else (`=5`, `2+`) stays a valueString.
 */
function snForm(o: JsonObject): SnForm | undefined {
  if (o.ValueType !== "Structured Numeric" || typeof o.Value !== "string") return undefined;
  const sn = parseSn(o.Value);
  if (sn === undefined || sn.num1 === undefined) return undefined;
  const { comparator: c, separator: sep, num2 } = sn;
  if (sep === undefined && num2 === undefined) {
    return c === undefined || COMPARATORS.includes(c) ? "quantity" : undefined;
  }
  if (c !== undefined || num2 === undefined) return undefined;
  if (sep === "-") return "range";
  if (sep === ":" || sep === "/") return "ratio";
  return undefined;
}

/** Comparators FHIR's Quantity has. */
const COMPARATORS = ["<", "<=", ">=", ">"];

const NUMERIC: When = {
  toFhir: (o) => (o.ValueType === "Numeric" && quantityValue(o)) || snForm(o) === "quantity",
  toDm: () => true,
};

/** A SimpleQuantity of `value` in the result's units (UCUM). */
function simpleQuantity(value: number, units: unknown): JsonObject {
  return typeof units === "string" && units !== ""
    ? { value, unit: units, system: UCUM, code: units }
    : { value };
}

/**
 * A Structured Numeric range or ratio (`10-20`, `2:3`) ⇄ `valueRange` (low, high in the
 * result's units) or `valueRatio` (numerator, denominator); read back as a Structured Numeric.
 */
const SN_RANGE_RATIO: FnRule = {
  kind: "fn",
  toFhir(obj, res) {
    const form = snForm(obj);
    if (form !== "range" && form !== "ratio") return;
    const sn = parseSn(obj.Value as string);
    if (sn?.num1 === undefined || sn.num2 === undefined) return;
    if (form === "range") {
      res.valueRange = {
        low: simpleQuantity(sn.num1, obj.Units),
        high: simpleQuantity(sn.num2, obj.Units),
      };
    } else res.valueRatio = { numerator: { value: sn.num1 }, denominator: { value: sn.num2 } };
  },
  toDm(res, obj) {
    if (obj.Value !== undefined) return;
    const range = res.valueRange, ratio = res.valueRatio;
    let a: unknown, b: unknown, sep: string;
    if (isObject(range) && isObject(range.low) && isObject(range.high)) {
      [a, b, sep] = [range.low.value, range.high.value, "-"];
      const unit = range.low.unit ?? range.low.code;
      if (obj.Units === undefined && typeof unit === "string") obj.Units = unit;
    } else if (isObject(ratio) && isObject(ratio.numerator) && isObject(ratio.denominator)) {
      [a, b, sep] = [ratio.numerator.value, ratio.denominator.value, ":"];
    } else return;
    if (typeof a !== "number" || typeof b !== "number") return;
    obj.Value = `${a}${sep}${b}`;
    obj.ValueType ??= "Structured Numeric";
  },
};

/**
 * A Numeric value with a comparator (`<5`) ⇄ `valueQuantity.comparator` and `value`. It comes
 * before the plain value rule, which leaves a `Value` this one has read as it is.
 */
const COMPARATOR: FnRule = {
  kind: "fn",
  toFhir(obj, res) {
    if (!NUMERIC.toFhir(obj, undefined as never) || typeof obj.Value !== "string") return;
    const m = COMPARED.exec(obj.Value);
    if (m === null) return;
    const q = isObject(res.valueQuantity) ? res.valueQuantity : (res.valueQuantity = {});
    Object.assign(q as JsonObject, { comparator: m[1], value: Number(m[2]) });
  },
  toDm(res, obj) {
    const q = res.valueQuantity;
    if (obj.Value !== undefined || !isObject(q)) return;
    if (typeof q.comparator !== "string" || typeof q.value !== "number") return;
    obj.Value = `${q.comparator}${String(q.value)}`;
  },
};
const CODED = valueType("Coded Entry");
const TIME = valueType("Date", "DateTime");
const ED = valueType("Encapsulated Data");
const TEXT_TYPES = ["String", "Text", "Formatted Text", "Time", "Structured Numeric"];
/** Any value type the others do not take (a code outside table 0125 included). */
const TEXT: When = {
  toFhir: (o) =>
    TEXT_TYPES.includes(String(o.ValueType ?? "String")) ||
    ![
      "Numeric",
      "Coded Entry",
      "Date",
      "DateTime",
      "Encapsulated Data",
    ].includes(String(o.ValueType)) ||
    (o.ValueType === "Numeric" && !quantityValue(o)),
  toDm: () => true,
};

/** A value that is a valueString (a Structured Numeric only when it has no other form). */
const STRING: When = {
  toFhir: (o) => TEXT.toFhir(o, never) && snForm(o) === undefined,
  toDm: () => true,
};

/** `ValueType` read back from the value[x] the resource carries. */
const VALUE_TYPE_OF: FnRule = {
  kind: "fn",
  toFhir() {},
  toDm(res, obj) {
    if (obj.ValueType !== undefined) return;
    const t = res.valueQuantity !== undefined
      ? "Numeric"
      : res.valueCodeableConcept !== undefined
      ? "Coded Entry"
      : res.valueDateTime !== undefined
      ? "DateTime"
      : res.valueString !== undefined
      ? "String"
      : Array.isArray(res.extension) &&
          res.extension.some((e: JsonObject) => e?.url === OBSERVATION_ATTACHMENT)
      ? "Encapsulated Data"
      : undefined;
    if (t !== undefined) obj.ValueType = t;
  },
};

/** A result (OBX) → Observation. */
export const OBSERVATION: ResourceMap = {
  resourceType: "Observation",
  rules: [
    path("Status", "status", RESULT_STATUS),
    fixed("status", (o) => o.Status == null ? "unknown" : undefined),
    fixed("category[0]", () => ({
      coding: [{
        system: "http://terminology.hl7.org/CodeSystem/observation-category",
        code: "laboratory",
      }],
    })),
    ...concept("code"),
    fixed("code.text", (o) => o.Code == null && o.Description == null ? "unknown" : undefined),
    refTo("subject", "Patient"),
    refTo("encounter", "Encounter"),
    path("ObservedDateTime", "effectiveDateTime", dateTime),
    COMPARATOR,
    path("Value", "valueQuantity.value", num, NUMERIC),
    path("Units", "valueQuantity.unit", str, NUMERIC),
    fixed("valueQuantity.system", (o) => NUMERIC.toFhir(o, never) && o.Units ? UCUM : undefined),
    fixed("valueQuantity.code", (o) => NUMERIC.toFhir(o, never) && o.Units ? o.Units : undefined),
    path("Value", "valueCodeableConcept.coding[0].code", str, CODED),
    path("Value", "valueDateTime", hl7Time, TIME),
    SN_RANGE_RATIO,
    path("Value", "valueString", str, STRING),
    path("Value", `extension[url=${OBSERVATION_ATTACHMENT}].valueAttachment.data`, str, ED),
    path(
      "FileType",
      `extension[url=${OBSERVATION_ATTACHMENT}].valueAttachment.contentType`,
      mimeType,
      ED,
    ),
    VALUE_TYPE_OF,
    ...dmUnder("ReferenceRange", [
      path("Low", "referenceRange[0].low.value", number),
      path("High", "referenceRange[0].high.value", number),
      path("Text", "referenceRange[0].text"),
    ]),
    path(
      "AbnormalFlag",
      "interpretation[0]",
      v2Concept(
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        ABNORMAL_FLAG,
      ),
    ),
    practitioner("Performer", { fx: "performer[0]" }),
    each("Notes", "note", [path("", "text")]),
  ],
};

const never = undefined as never;

/** An order with results (ORC/OBR) → DiagnosticReport; its results are linked by the bundle. */
export const DIAGNOSTIC_REPORT: ResourceMap = {
  resourceType: "DiagnosticReport",
  rules: [
    path("ID", `identifier[system=${PLACER_SYSTEM}].value`),
    path("ApplicationOrderID", `identifier[system=${FILLER_SYSTEM}].value`),
    path("ResultsStatus", "status", REPORT_STATUS),
    fixed("status", (o) => o.ResultsStatus == null ? "unknown" : undefined),
    fixed("category[0]", () => ({
      coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0074", code: "LAB" }],
    })),
    ...dmUnder("Procedure", concept("code")),
    fixed("code.text", (o) => o.Procedure == null ? "unknown" : undefined),
    refTo("subject", "Patient"),
    refTo("encounter", "Encounter"),
    path("CollectionDateTime", "effectiveDateTime", dateTime),
    path("CompletionDateTime", "issued", instant),
  ],
};
