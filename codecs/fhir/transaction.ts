/**
 * A message Bundle → a `transaction` Bundle for a FHIR server (Medplum, HAPI): each resource
 * but the MessageHeader is `PUT` by its first identifier (`Patient?identifier=system|value`, a
 * conditional update: created once, updated after; the resource's id is left out) or, without
 * one, by its id
 * (`Observation/<uuid v5>`), so that sending the same message twice changes nothing.
 * References stay `urn:uuid:` fullUrls, which the server resolves inside the transaction.
 *
 * @module
 */

import { isObject, type JsonObject } from "../datamodel/json_path.ts";
import type { FhirBundle, FhirResource } from "./bundle.ts";

function searchValue(v: string): string {
  // `|` and `,` separate in a token search; escape them as FHIR search says.
  return v.replace(/[\\|,$]/g, (c) => `\\${c}`);
}

/** The conditional URL of a resource: by its first identifier with a system and a value. */
export function conditionalUrl(res: FhirResource): string | undefined {
  const ids = Array.isArray(res.identifier)
    ? res.identifier
    : isObject(res.masterIdentifier)
    ? [res.masterIdentifier]
    : [];
  const id = ids.find((i: unknown) =>
    isObject(i) && typeof i.system === "string" && typeof i.value === "string"
  ) as JsonObject | undefined;
  if (id === undefined) return undefined;
  const token = `${searchValue(String(id.system))}|${searchValue(String(id.value))}`;
  return `${res.resourceType}?identifier=${encodeURIComponent(token)}`;
}

/** A message Bundle as a transaction Bundle (the MessageHeader left out). */
export function messageToTransaction(bundle: FhirBundle): FhirBundle {
  const entry = (bundle.entry ?? []).filter((e) =>
    e.resource !== undefined && e.resource.resourceType !== "MessageHeader"
  ).map((e) => {
    const given = e.resource as FhirResource;
    const conditional = conditionalUrl(given);
    // A conditional update finds its target by identifier: an id of ours would clash with the
    // server's on the second message.
    const resource = conditional === undefined ? given : withoutId(given);
    const url = conditional ?? `${resource.resourceType}/${String(resource.id)}`;
    return {
      ...(e.fullUrl ? { fullUrl: e.fullUrl } : {}),
      resource,
      request: { method: "PUT", url },
    };
  });
  return {
    resourceType: "Bundle",
    ...(bundle.id ? { id: bundle.id } : {}),
    type: "transaction",
    ...(bundle.timestamp ? { timestamp: bundle.timestamp } : {}),
    entry,
  };
}

function withoutId(res: FhirResource): FhirResource {
  const { id: _id, ...rest } = res;
  return rest as FhirResource;
}
