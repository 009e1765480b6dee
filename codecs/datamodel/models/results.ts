/**
 * Results (ORU^R01): orders (ORC/OBR) with their results (OBX) and notes (NTE). Encapsulated
 * data (OBX of type ED) travels as base64 in `Value` with its `FileType`.
 *
 * @module
 */

import {
  asFallback,
  type Condition,
  constant,
  group,
  leaf,
  type ScopeItem,
  segment,
  setId,
  under,
} from "../rules.ts";
import { codes } from "../values.ts";
import { coded, MSH, nte, PD1, PID, providerAt, PV1, PV2 } from "./common.ts";

/** HL7 0125 value types (the first code of a name is the one written). */
export const VALUE_TYPE = codes({
  NM: "Numeric",
  ST: "String",
  TX: "Text",
  FT: "Formatted Text",
  ED: "Encapsulated Data",
  CWE: "Coded Entry",
  CE: "Coded Entry",
  DT: "Date",
  DTM: "DateTime",
  TS: "DateTime",
  TM: "Time",
  SN: "Structured Numeric",
});

/** HL7 0085 observation result status. */
export const RESULT_STATUS = codes({
  F: "Final",
  P: "Preliminary",
  C: "Corrected",
  X: "Canceled",
  I: "Incomplete",
  R: "Unverified",
  D: "Deleted",
});

/** HL7 0123 order result status. */
export const ORDER_STATUS = codes({
  F: "Final",
  P: "Preliminary",
  C: "Corrected",
  X: "Canceled",
  I: "Incomplete",
  A: "Partial",
  R: "Unverified",
  S: "Scheduled",
});

/** HL7 0078 abnormal flags. */
export const ABNORMAL_FLAG = codes({
  L: "Low",
  H: "High",
  LL: "Low Panic",
  HH: "High Panic",
  N: "Normal",
  A: "Abnormal",
  AA: "Very Abnormal",
});

/** OBX segments that carry encapsulated data. */
export const ENCAPSULATED: Condition = {
  read: (seg) => seg.text("2") === "ED",
  write: (ctx) => ctx.obj.ValueType === "Encapsulated Data",
};

/** OBX segments that carry a structured numeric value (SN). */
export const STRUCTURED: Condition = {
  read: (seg) => seg.text("2") === "SN",
  write: (ctx) => ctx.obj.ValueType === "Structured Numeric",
};

/** OBX segments that carry a plain value. */
export const PLAIN: Condition = {
  read: (seg) => {
    const t = seg.text("2");
    return t !== "ED" && t !== "SN";
  },
  write: (ctx) =>
    ctx.obj.ValueType !== "Encapsulated Data" && ctx.obj.ValueType !== "Structured Numeric",
};

/**
 * OBX → one result. The value is OBX-5.1; for a structured numeric (SN) the whole value as one
 * text (`>^500` is `>500`, `^10^-^20` is `10-20`, `^2^:^3` is `2:3`); for encapsulated data the
 * base64 of OBX-5.5 with the file type of OBX-5.3.
 */
export const RESULT_OBX = segment("OBX", "", [
  setId(),
  leaf("ValueType", "2", { codes: VALUE_TYPE }),
  ...under(3, coded()),
  leaf("Value", "5", { when: PLAIN }),
  { kind: "structured", j: "Value", f: 5, when: STRUCTURED },
  leaf("Value", "5.5", { t: "base64", when: ENCAPSULATED }),
  leaf("FileType", "5.3", { when: ENCAPSULATED }),
  constant("5.2", () => "AP", { when: ENCAPSULATED }),
  constant("5.4", () => "Base64", { when: ENCAPSULATED }),
  leaf("Units", "6"),
  { kind: "range", j: "ReferenceRange", h: "7" },
  leaf("AbnormalFlag", "8", { codes: ABNORMAL_FLAG }),
  leaf("Status", "11", { codes: RESULT_STATUS }),
  leaf("ObservedDateTime", "14", { t: "datetime" }),
  leaf("Producer.ID", "15.1"),
  leaf("Producer.Name", "15.2"),
  leaf("Producer.IDType", "15.3"),
  ...providerAt("Performer", 16),
]);

/** ORU_R01: patient, visit, and a group per order with a group per result. */
export const RESULTS: readonly ScopeItem[] = [
  MSH,
  PID,
  PD1,
  nte("Patient.Notes"),
  PV1,
  PV2,
  group("Orders", "OBR", [
    segment("ORC", "", [
      constant("1", () => "RE"),
      ...asFallback([leaf("ID", "2"), leaf("ApplicationOrderID", "3")]),
      ...asFallback(providerAt("Provider", 12)),
    ]),
    segment("OBR", "", [
      setId(),
      leaf("ID", "2"),
      leaf("ApplicationOrderID", "3"),
      ...under(4, coded()).map((r) => ({ ...r, j: `Procedure.${r.j}` })),
      leaf("CollectionDateTime", "7", { t: "datetime" }),
      ...providerAt("Provider", 16),
      leaf("CompletionDateTime", "22", { t: "datetime" }),
      leaf("ResultsStatus", "25", { codes: ORDER_STATUS }),
    ], { required: true }),
    nte("Notes"),
    group("Results", "OBX", [RESULT_OBX, nte("Notes")]),
  ], { lead: ["ORC"] }),
];
