/**
 * ORU^R01 with specimens (HL7 v2.5.1 SPECIMEN groups): the first order's SPM after its results
 * with every field the Specimen table maps, the second's right after its OBR (before its OBX),
 * with a CWE that has no coding system. Shared by the codec's tests and the API's end to end.
 */

import { message, msh, seg } from "../datamodel/fixtures.ts";

/** The first order's SPM: every field of the Specimen table. */
export const SPM_FULL = seg("SPM", {
  1: "1",
  2: "SP1&LAB^FIL1&LAB",
  4: "119297000^Blood specimen^SCT",
  7: "129316008^Aspiration^SCT",
  8: "49852007^Structure of median cubital vein^SCT",
  11: "P^Patient^HL70369",
  12: "5^mL&milliliter&UCUM",
  17: "20240315075500-0500^20240315080000-0500",
  18: "20240315090000-0500",
  20: "Y",
  21: "RB^Broken container^HL70490",
  24: "CFU^Clotted^HL70493",
});

/** Two orders, one SPM each (see the module doc). */
export const ORU_SPM = message(
  msh("ORU^R01^ORU_R01", "LABSPM1"),
  seg("PID", { 1: "1", 3: "500077^^^HOSP^MR", 5: "OKAFOR^ADA", 7: "19820704", 8: "F" }),
  seg("ORC", { 1: "RE", 2: "ORD1", 3: "FIL1", 5: "CM" }),
  seg("OBR", { 1: "1", 2: "ORD1", 3: "FIL1", 4: "58410-2^CBC panel^LN", 25: "F" }),
  seg("OBX", { 1: "1", 2: "NM", 3: "718-7^Hemoglobin^LN", 5: "13.2", 6: "g/dL", 11: "F" }),
  seg("OBX", { 1: "2", 2: "NM", 3: "4544-3^Hematocrit^LN", 5: "40", 6: "%", 11: "F" }),
  SPM_FULL,
  seg("ORC", { 1: "RE", 2: "ORD2", 3: "FIL2", 5: "CM" }),
  seg("OBR", { 1: "2", 2: "ORD2", 3: "FIL2", 4: "24323-8^CMP^LN", 25: "F" }),
  seg("SPM", { 1: "1", 2: "SP2", 4: "SER^Serum", 17: "20240315080000-0500" }),
  seg("OBX", { 1: "1", 2: "NM", 3: "2345-7^Glucose^LN", 5: "99", 6: "mg/dL", 11: "F" }),
);
