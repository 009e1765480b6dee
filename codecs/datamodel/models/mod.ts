/**
 * The mapping table of every data model, and what each one requires of incoming JSON.
 *
 * @module
 */

import type { DataModelName } from "../events.ts";
import type { ScopeItem } from "../rules.ts";
import { MEDIA, NOTES } from "./documents.ts";
import { ORDER } from "./orders.ts";
import { PATIENT_ADMIN } from "./patient_admin.ts";
import { RESULTS } from "./results.ts";
import { SCHEDULING } from "./scheduling.ts";

/** The scope items of each data model. */
export const MODELS: Readonly<Record<DataModelName, readonly ScopeItem[]>> = {
  PatientAdmin: PATIENT_ADMIN,
  Results: RESULTS,
  Scheduling: SCHEDULING,
  Order: ORDER,
  Notes: NOTES,
  Media: MEDIA,
};

/**
 * A choice a message must make: each object at `path` (`[]` = every element of an array) needs
 * at least one of `keys`, and when it has none `rule` says so at that object's path.
 */
export interface RequiredChoice {
  readonly path: string;
  readonly keys: readonly string[];
  readonly rule: string;
}

/** One thing a message must carry: a JSON path, or one of several properties. */
export type Requirement = string | RequiredChoice;

/**
 * An order is identified by its placer number, its filler number, or both (HL7 requires OBR-2
 * or OBR-3): labs often send only the filler number.
 */
const ORDER_NUMBER: RequiredChoice = {
  path: "Orders[]",
  keys: ["ID", "ApplicationOrderID"],
  rule: "needs ID (OBR-2, placer order number) or ApplicationOrderID (OBR-3, filler order number)",
};

/**
 * The same choice for the one order of an Order message (HL7 requires ORC-2 or ORC-3): a filler
 * system's order, or an order passed on with only its filler number, has no ORC-2.
 */
const ORDER_MESSAGE_NUMBER: RequiredChoice = {
  path: "Order",
  keys: ["ID", "ApplicationOrderID"],
  rule: "needs ID (ORC-2, placer order number) or ApplicationOrderID (ORC-3, filler order number)",
};

/**
 * What a message must carry: JSON paths (`[]` = every element of an array; an array must also
 * be non-empty) and choices. `*` applies to every event of the model.
 */
export const REQUIRED: Readonly<
  Record<DataModelName, Readonly<Record<string, readonly Requirement[]>>>
> = {
  PatientAdmin: {
    "*": ["Patient.Identifiers", "Patient.Identifiers[].ID"],
    Cancel: ["Meta.CanceledEvent"],
    PatientMerge: ["Patient.PreviousIdentifiers", "Patient.PreviousIdentifiers[].ID"],
  },
  Results: {
    "*": [
      "Patient.Identifiers",
      "Patient.Identifiers[].ID",
      "Orders",
      ORDER_NUMBER,
      "Orders[].Results[].Code",
    ],
  },
  Scheduling: {
    "*": ["Patient.Identifiers", "Patient.Identifiers[].ID", "Visit.VisitDateTime"],
  },
  Order: {
    "*": ["Patient.Identifiers", "Patient.Identifiers[].ID", "Order", ORDER_MESSAGE_NUMBER],
  },
  Notes: {
    "*": ["Patient.Identifiers", "Patient.Identifiers[].ID", "Note.DocumentID"],
  },
  Media: {
    "*": [
      "Patient.Identifiers",
      "Patient.Identifiers[].ID",
      "Media.FileContents",
      "Media.FileType",
    ],
  },
};

/**
 * Segments an HL7 v2 message must hold for its data model to read anything meaningful (from the
 * v2.5.1 message structures, kept to what the model cannot do without: the patient every model
 * requires, MRG for a merge, OBR for results, ORC for orders, SCH for appointments, TXA for
 * notes). `*` applies to every event of the model.
 */
export const REQUIRED_SEGMENTS: Readonly<
  Record<DataModelName, Readonly<Record<string, readonly string[]>>>
> = {
  PatientAdmin: { "*": ["PID"], PatientMerge: ["PID", "MRG"] },
  Results: { "*": ["PID", "OBR"] },
  Scheduling: { "*": ["SCH", "PID"] },
  Order: { "*": ["PID", "ORC"] },
  Notes: { "*": ["PID", "TXA"] },
  Media: { "*": ["PID"] },
};
