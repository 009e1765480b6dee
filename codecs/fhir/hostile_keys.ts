/**
 * What `@medplum/core`'s validator does not see: JSON keys that name a member of
 * `Object.prototype` (`__proto__`, `constructor`, `toString`...) and `resourceType`s that are no
 * R4 resource type but one of those names. The validator looks both up in plain objects, finds
 * the inherited member, and takes the key or the type as known: a Patient with a `__proto__`
 * property, or an entry of `"resourceType": "constructor"` (whatever it holds), passed R4
 * validation. No FHIR element or resource type has such a name, so each is refused here, located
 * by FHIRPath, before the validator runs.
 *
 * @module
 */

import { getAllDataTypes } from "@medplum/core";
import type { FhirIssue } from "./errors.ts";
import { loadDefinitions } from "./profiles.ts";

/** At most this many such problems are listed. */
const MAX_LISTED = 20;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isResourceType(name: string): boolean {
  const types = getAllDataTypes();
  return Object.hasOwn(types, name) && types[name]?.kind === "resource";
}

/**
 * The keys of `value` (a resource or a Bundle, at FHIRPath `root`), at any depth, and its
 * resource types (`resourceType` of any object in it) that are `Object.prototype` member names,
 * at most 20. Iterative.
 */
export function hostileKeyIssues(value: unknown, root: string): FhirIssue[] {
  loadDefinitions();
  const out: FhirIssue[] = [];
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0 && out.length < MAX_LISTED) {
    const [v, path] = stack.pop()!;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        if (typeof v[i] === "object" && v[i] !== null) stack.push([v[i], `${path}[${i}]`]);
      }
      continue;
    }
    if (!isRecord(v)) continue;
    const rt = v.resourceType;
    // Other unknown types stop the validator with its own issue (bundle_pass.ts keeps that).
    if (typeof rt === "string" && Object.hasOwn(Object.prototype, rt) && !isResourceType(rt)) {
      out.push({
        path: `${path}.resourceType`,
        text: `Unknown resource type ${JSON.stringify(rt.slice(0, 64))}`,
      });
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      if (Object.hasOwn(Object.prototype, k)) {
        out.push({
          path: `${path}.${k}`,
          text: `Invalid property ${JSON.stringify(k)}: no FHIR element has this name`,
        });
        continue;
      }
      const child = v[k];
      if (typeof child === "object" && child !== null) stack.push([child, `${path}.${k}`]);
    }
  }
  return out.slice(0, MAX_LISTED);
}
