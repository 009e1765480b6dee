/**
 * Order (ORM^O01, OML^O21): one order per message (ORC, OBR, its notes, diagnoses and
 * clinical information); ORC-1 says New, Update or Cancel.
 *
 * @module
 */

import { ORDER_CONTROL, orderEventOf } from "../events.ts";
import {
  asFallback,
  constant,
  group,
  leaf,
  type ScopeItem,
  segment,
  setId,
  under,
} from "../rules.ts";
import { codes } from "../values.ts";
import {
  al1,
  coded,
  dg1,
  gt1,
  in1,
  MSH,
  nte,
  onePhone,
  PD1,
  PID,
  providerAt,
  PV1,
  PV2,
} from "./common.ts";

/** HL7 0027 priority (TQ-6). */
export const PRIORITY = codes({
  S: "Stat",
  A: "ASAP",
  R: "Routine",
  P: "Preop",
  T: "Timing Critical",
});

/** ORM_O01: patient, visit, coverage and the order group. */
export const ORDER: readonly ScopeItem[] = [
  MSH,
  PID,
  PD1,
  nte("Patient.Notes"),
  PV1,
  PV2,
  in1("Visit.Insurances"),
  gt1("Visit.Guarantor"),
  al1("Patient.Allergies"),
  group("Order", "ORC", [
    segment("ORC", "", [
      constant("1", (ctx) => ORDER_CONTROL[ctx.eventType], {
        accepts: (raw, ctx) => orderEventOf(raw) === ctx.eventType,
      }),
      leaf("ID", "2"),
      leaf("ApplicationOrderID", "3"),
      leaf("Status", "5"),
      leaf("Priority", "7.6", { codes: PRIORITY }),
      leaf("TransactionDateTime", "9", { t: "datetime" }),
      ...providerAt("Provider", 12),
      leaf("OrderingFacility.Name", "21"),
      leaf("OrderingFacility.Address.StreetAddress", "22.1"),
      leaf("OrderingFacility.Address.City", "22.3"),
      leaf("OrderingFacility.Address.State", "22.4"),
      leaf("OrderingFacility.Address.ZIP", "22.5"),
      leaf("OrderingFacility.Address.Country", "22.6"),
      leaf("OrderingFacility.Address.County", "22.9"),
      onePhone(23, "OrderingFacility.PhoneNumber"),
    ], { required: true }),
    segment("OBR", "", [
      setId(),
      ...asFallback([leaf("ID", "2"), leaf("ApplicationOrderID", "3")]),
      ...under(4, coded()).map((r) => ({ ...r, j: `Procedure.${r.j}` })),
      leaf("CollectionDateTime", "7", { t: "datetime" }),
      leaf("Comments", "13"),
      leaf("Specimen.Source", "15"),
      ...asFallback(providerAt("Provider", 16)),
      leaf("Priority", "27.6", { codes: PRIORITY, fallback: "read" }),
    ]),
    nte("Notes"),
    dg1("Diagnoses"),
    group("ClinicalInfo", "OBX", [
      segment("OBX", "", [
        setId(),
        constant("2", () => "ST"),
        ...under(3, coded()),
        leaf("Value", "5"),
        leaf("Units", "6"),
      ]),
      nte("Notes"),
    ]),
  ], { many: false }),
];
