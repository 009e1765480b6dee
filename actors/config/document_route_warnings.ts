/**
 * Warnings (never refusals) for subscriptions that may route an X12 interchange or a C-CDA to an
 * MLLP destination: routing fails such a route (`documentMismatch`), but the sender may never send
 * documents, so `check` only says so, naming the `dataModels` that would keep them away.
 * @module
 */

import type { Config, SubscriptionConfig } from "./schema.ts";
import { type DocumentKind, documentMismatch } from "./destination_formats.ts";
import { SANDBOX_IDS } from "./sandbox.ts";

/** A warning about the config's routing: where (`$.subscriptions[0].to[1]`) and why. */
export interface RoutingWarning {
  path: string;
  message: string;
}

// As routing names them (document_routing.ts): the data model and the event types of each.
const X12_MODEL = "X12";
const CCDA_MODEL = "Clinical Summary";
// C-CDA document types (codecs/ccda/vocab.ts); an `eventTypes` entry naming one selects C-CDA.
const CCDA_TYPES = new Set([
  "CCD",
  "History and Physical",
  "Consultation Note",
  "Diagnostic Imaging Report",
  "Procedure Note",
  "Operative Note",
  "Discharge Summary",
  "Progress Note",
  "Unstructured Document",
  "Transfer Summary",
  "Referral Note",
  "Care Plan",
]);

/** Which documents a subscription's selectors let through (its sender aside). */
function documentsSelected(s: SubscriptionConfig): DocumentKind[] {
  if (s.filter?.blockAll) return [];
  const out: DocumentKind[] = [];
  const x12 = (!s.dataModels || s.dataModels.includes(X12_MODEL)) && !s.documentTypes &&
    // An X12 set's event type is its ST01 (`837`).
    (!s.eventTypes || s.eventTypes.some((e) => /^\d{3}$/.test(e)));
  if (x12) out.push("X12");
  const ccda = (!s.dataModels || s.dataModels.includes(CCDA_MODEL)) && !s.x12 &&
    (!s.eventTypes || s.eventTypes.some((e) => CCDA_TYPES.has(e)));
  if (ccda) out.push("C-CDA");
  return out;
}

/**
 * Integrations that may receive X12 or C-CDA: files (polled over `sftp`, uploaded to the hosted
 * folder by a `sftpServer` user) and messages `forward`ed by another engine. An MLLP listener
 * takes HL7 v2 only; every API source may post documents to `POST /endpoint`.
 */
function documentIntegrations(config: Config): Set<string> {
  const out = new Set<string>();
  for (const i of config.integrations) if (i.sftp || i.forward) out.add(i.id);
  for (const u of config.sftpServer?.users ?? []) out.add(u.integration);
  return out;
}

/**
 * One warning per subscription and MLLP destination it may send X12 or C-CDA to, e.g.
 * `subscription "claims" may route X12 to destination "adt-out", which is MLLP: …`.
 */
export function documentRouteWarnings(config: Config): RoutingWarning[] {
  const integrations = documentIntegrations(config);
  const destinations = new Map(config.destinations.map((d) => [d.id, d]));
  const warnings: RoutingWarning[] = [];
  config.subscriptions.forEach((s, i) => {
    // The sandbox's own flow from its simulated EHR (JSON only) is not the user's to change.
    if (s.from.source === SANDBOX_IDS.api) return;
    const carries = s.from.source !== undefined ||
      (s.from.integration !== undefined && integrations.has(s.from.integration));
    if (!carries) return;
    const documents = documentsSelected(s);
    if (documents.length === 0) return;
    const name = s.id ? `subscription "${s.id}"` : `subscription ${i + 1}`;
    s.to.forEach((to, j) => {
      const dest = destinations.get(to);
      if (!dest || !documents.some((d) => documentMismatch(dest, d))) return;
      const what = documents.join(" and ");
      warnings.push({
        path: `$.subscriptions[${i}].to[${j}]`,
        message: `${name} may route ${what} to destination "${to}", which is MLLP: it carries ` +
          `HL7 v2 only, so each such document would fail that route; add "dataModels": ["…"] ` +
          `(the HL7 data models it is for, e.g. ["PatientAdmin"]) to keep X12 and C-CDA away ` +
          `from it`,
      });
    });
  });
  return warnings;
}
