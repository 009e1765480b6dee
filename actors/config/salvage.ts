/**
 * When a config fails its schema, the parts that are well formed are still worth cross-checking,
 * so that one run lists every problem (a bad port *and* an unknown destination), not one layer of
 * problems per attempt. This keeps each section, and each element of a list section, that passes
 * on its own, and records what was left out so cross-checks do not blame references to it.
 * @module
 */

import { z } from "zod";
import type { Config } from "./schema.ts";

/** What a salvaged config leaves out: whole sections, and the ids of broken list elements. */
export interface Broken {
  /** Top-level sections that did not parse at all (`http`, `sftpServer`…). */
  sections: ReadonlySet<string>;
  /** Per list section, the ids written on elements that did not parse. */
  ids: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Nothing left out. */
export const NOTHING_BROKEN: Broken = { sections: new Set(), ids: new Map() };

/** True when references to `id` in `section` cannot be judged, because the target is broken. */
export function isBroken(broken: Broken, section: string, id: string): boolean {
  return broken.sections.has(section) || (broken.ids.get(section)?.has(id) ?? false);
}

/** A config rebuilt from its well-formed parts. */
export interface Salvaged {
  config: Config;
  broken: Broken;
  /** Per list section, the original index of each kept element (for problem paths). */
  indexes: ReadonlyMap<string, readonly number[]>;
}

/**
 * Rebuilds a config from the sections and list elements of `value` that pass `schema` on their
 * own. Sections that fail entirely take their default (or stay absent) and are named in `broken`.
 */
export function salvage(schema: z.ZodObject, value: unknown): Salvaged {
  const raw = isRecord(value) ? value : {};
  const out: Record<string, unknown> = {};
  const sections = new Set<string>();
  const ids = new Map<string, Set<string>>();
  const indexes = new Map<string, number[]>();
  for (const [key, section] of Object.entries(schema.shape) as [string, z.ZodType][]) {
    const parsed = section.safeParse(raw[key]);
    if (parsed.success) {
      out[key] = parsed.data;
      continue;
    }
    const element = listElement(section);
    const list = raw[key];
    if (element && Array.isArray(list)) {
      const kept: unknown[] = [];
      const at: number[] = [];
      const brokenIds = new Set<string>();
      list.forEach((item, i) => {
        const one = element.safeParse(item);
        if (one.success) {
          kept.push(one.data);
          at.push(i);
        } else if (isRecord(item) && typeof item.id === "string") brokenIds.add(item.id);
      });
      out[key] = kept;
      indexes.set(key, at);
      ids.set(key, brokenIds);
      continue;
    }
    sections.add(key);
    const fallback = section.safeParse(undefined);
    if (fallback.success) out[key] = fallback.data;
  }
  return { config: out as Config, broken: { sections, ids }, indexes };
}

/** Rewrites `$.section[i]…` in a salvaged config's problem path to the element's original index. */
export function originalPath(path: string, indexes: Salvaged["indexes"]): string {
  const m = /^\$\.(\w+)\[(\d+)\]/.exec(path);
  if (!m) return path;
  const original = indexes.get(m[1]!)?.[Number(m[2])];
  return original === undefined ? path : `$.${m[1]}[${original}]${path.slice(m[0].length)}`;
}

function listElement(section: z.ZodType): z.ZodType | undefined {
  let inner: z.ZodType = section;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) {
    inner = inner.unwrap() as z.ZodType;
  }
  return inner instanceof z.ZodArray ? inner.element as z.ZodType : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
