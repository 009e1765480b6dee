/**
 * Where a data-model problem is in the FHIR bundle it came from: the tables say which resource
 * holds a data-model object and which FHIR path a property maps to, so a problem such as
 * `Patient.Demographics.DOB: not a date` is located at `Bundle.entry[1].resource.birthDate`.
 *
 * @module
 */

import { isObject } from "../datamodel/json_path.ts";
import { MESSAGE_PARTS, type Part } from "./messages.ts";
import type { Rule } from "./rules.ts";

/** FHIRPath of a table path: `telecom[system=phone]` → `telecom.where(system='phone')`. */
function fhirPath(fx: string): string {
  return fx.replace(/\[([^\]]*=[^\]]*)\]/g, (_m, inner: string) => {
    const conds = inner.split(",").map((kv) => {
      const [k, v] = kv.split("=");
      return `${k}='${v}'`;
    });
    return `.where(${conds.join(" and ")})`;
  });
}

function fxOf(rules: readonly Rule[], dm: string): string | undefined {
  for (const r of rules) {
    if (r.kind === "path" && r.dm === dm) return r.fx;
    if (r.kind === "each" && (dm === r.dm || dm.startsWith(`${r.dm}.`))) return r.fx;
  }
  return undefined;
}

function flatten(parts: readonly Part[], prefix = ""): { part: Part; dm: string }[] {
  return parts.flatMap((p) => {
    const dm = prefix === "" ? p.dm : `${prefix}[].${p.dm}`;
    return [{ part: p, dm }, ...flatten(p.children ?? [], dm)];
  });
}

/**
 * The FHIRPath in `bundle` of a data-model path of a message of `dataModel` (`Bundle` when
 * nothing holds it).
 */
export function locateInBundle(dataModel: string, bundle: unknown, dmPath: string): string {
  const parts = MESSAGE_PARTS[dataModel as keyof typeof MESSAGE_PARTS];
  const entries = isObject(bundle) && Array.isArray(bundle.entry) ? bundle.entry : [];
  if (dmPath.startsWith("Meta")) return entries.length > 0 ? "Bundle.entry[0].resource" : "Bundle";
  if (parts === undefined) return "Bundle";
  const plain = dmPath.replace(/\[\d+\]/g, "[]");
  let best: { part: Part; dm: string } | undefined;
  for (const c of flatten(parts)) {
    const at = c.part.many ? `${c.dm}[]` : c.dm;
    if (
      (plain === c.dm || plain === at || plain.startsWith(`${at}.`)) && c.part.only === undefined
    ) {
      if (best === undefined || c.dm.length > best.dm.length) best = c;
    }
  }
  if (best === undefined) return "Bundle";
  const type = best.part.map.resourceType;
  const indices = [...dmPath.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
  const nth = best.part.many ? indices[indices.length - 1] ?? 0 : 0;
  let seen = -1, entry = -1;
  entries.forEach((e: unknown, i: number) => {
    const res = isObject(e) ? e.resource : undefined;
    if (
      entry < 0 && isObject(res) && res.resourceType === type && (best.part.select?.(res) ?? true)
    ) {
      if (++seen === nth) entry = i;
    }
  });
  if (entry < 0) return "Bundle";
  const base = `Bundle.entry[${entry}].resource`;
  const at = best.part.many ? `${best.dm}[]` : best.dm;
  const rest = plain === best.dm || plain === at
    ? ""
    : plain.slice(at.length + 1).replace(/\[\]/g, "");
  const fx = rest === "" ? undefined : fxOf(best.part.map.rules, rest);
  return fx === undefined ? base : `${base}.${fhirPath(fx)}`;
}
