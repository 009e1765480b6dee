/**
 * The validation of a Bundle against R4 in pieces, an entry at a time, with the answer of one
 * run over the whole Bundle: the same issues, in the same order. One run holds the thread for as
 * long as the whole Bundle takes; {@link bundlePass} yields after each piece.
 *
 * How one run over a Bundle goes (`@medplum/core`), and so how the pieces go back together:
 * null values anywhere, in the order of the JSON's keys; the Bundle's invariants (`bdl-*`, at
 * `Bundle`: the first that fails); its elements in the definition's order, `entry` among them:
 * `entry` itself, then each entry's own invariants (at `Bundle.entry[3]`), then the inside of
 * each entry; then properties it does not know. An unknown resource type stops the run: its one
 * issue is the answer.
 *
 * The pieces:
 * - Each entry after a sentinel entry in a Bundle of their own. What an entry says depends only
 *   on the entry (its invariants read nothing outside it, and `%rootResource.contained` is empty
 *   in any Bundle without a `contained` of its own); the sentinel's two issues (its own
 *   invariant, and an unknown property at its end) tell the entry's own issues from its
 *   inside's.
 * - The Bundle with a sentinel for all its entries: its own elements' issues, the sentinel's
 *   marking where the entries' null values, own issues and insides go.
 * - The Bundle's invariants, evaluated (FHIRPath) on the whole Bundle as the validator does at its
 *   root: they read little of each entry, where the validator goes through all of each.
 *
 * A Bundle with no entries, or with a `contained` or `_entry` of its own (which change how its
 * entries read), is validated in one run; so is one whose pieces do not come back as expected.
 *
 * @module
 */

import {
  createConstraintIssue,
  createProcessingIssue,
  evalFhirPathTyped,
  getDataType,
  toTypedValue,
  UCUM,
} from "@medplum/core";
import type { OperationOutcomeIssue, Resource } from "@medplum/fhirtypes";
import { checkResource, type Verdict } from "./profiles.ts";

type Issue = OperationOutcomeIssue;

const MARK = "splitmarker";
const NULL_TEXTS = new Set(["Invalid null value", "Invalid undefined value"]);
/** A Bundle with one of these is validated in one run. */
const IN_ONE_RUN = ["_entry", "contained", "_contained"];
/** Invariants the validator does not check (`@medplum/core` 5's list). */
const UNCHECKED = new Set(["ele-1", "dom-3", "org-1", "sdf-19"]);

/** An entry with an invariant that fails (`bdl-5`) and an unknown property (null or not). */
function sentinel(nullMark: boolean): Record<string, unknown> {
  return { fullUrl: "urn:uuid:00000000-0000-4000-8000-000000000000", [MARK]: nullMark ? null : 1 };
}

const at = (i: Issue) => i.expression?.[0] ?? "";
const isNull = (i: Issue) => NULL_TEXTS.has(i.details?.text ?? "");
const isOwn = (i: Issue) => at(i) === "Bundle.entry[0]" && !isNull(i);
const isEnd = (i: Issue) => at(i) === `Bundle.entry[0].${MARK}` && !isNull(i);

/** An entry's issues, by where they go in one run over the whole Bundle. */
interface Pieces {
  nulls: Issue[];
  own: Issue[];
  inside: Issue[];
}

/**
 * Validates `bundle` (a `Bundle`) against R4 a piece at a time, yielding after each piece;
 * returns what one run over it says.
 */
export function* bundlePass(bundle: Record<string, unknown>): Generator<void, Verdict> {
  const entries = bundle.entry;
  const whole = () => checkResource(bundle as unknown as Resource);
  if (!Array.isArray(entries) || entries.length === 0 || IN_ONE_RUN.some((k) => k in bundle)) {
    return whole();
  }
  const pieces: Pieces = { nulls: [], own: [], inside: [] };
  for (let k = 0; k < entries.length; k++) {
    const alone = checkResource(
      { resourceType: "Bundle", entry: [sentinel(false), entries[k]] } as Resource,
    );
    yield;
    if (alone.stopped) return alone;
    if (!entryPieces(alone.issues, k, pieces)) return whole();
  }
  const frame = checkResource(Object.fromEntries(
    Object.entries(bundle).map(([key, value]) => [key, key === "entry" ? [sentinel(true)] : value]),
  ) as unknown as Resource);
  yield;
  if (frame.stopped) return frame;
  const issues = assemble(frame.issues, yield* invariants(bundle), pieces);
  return issues === undefined ? whole() : { issues, stopped: false };
}

/**
 * Adds to `into` the issues of entry `k`, found after a sentinel in a Bundle of their own
 * (`Bundle.entry[1]`), located in the whole; false when the sentinel's issues are not there.
 */
function entryPieces(found: readonly Issue[], k: number, into: Pieces): boolean {
  const own = found.findIndex(isOwn);
  const end = found.findIndex(isEnd);
  if (own < 0 || end < own) return false;
  const moved = (i: Issue): Issue => {
    const path = at(i);
    if (!path.startsWith("Bundle.entry[1]")) return i;
    return { ...i, expression: [`Bundle.entry[${k}]${path.slice("Bundle.entry[1]".length)}`] };
  };
  found.forEach((issue, n) => {
    if (isNull(issue)) {
      if (at(issue).startsWith("Bundle.entry[1]")) into.nulls.push(moved(issue));
    } else if (n > own && n < end) into.own.push(moved(issue));
    else if (n > end) into.inside.push(moved(issue));
  });
  return true;
}

/**
 * One run's issues from the run over the Bundle with a sentinel entry (`frame`), the Bundle's
 * invariants in place of the sentinel's Bundle's, and the entries' pieces where the sentinel's
 * issues are; undefined when the sentinel's issues are not there.
 */
function assemble(frame: readonly Issue[], invariants: Issue[], pieces: Pieces) {
  const nullMark = frame.findIndex((i) => isNull(i) && at(i) === `Bundle.entry[0].${MARK}`);
  const own = frame.findIndex(isOwn);
  const end = frame.findIndex(isEnd);
  if (nullMark < 0 || own < 0 || end < own) return undefined;
  // Null values first (the entries' where the sentinel's was), then the invariants, then the rest.
  const out: Issue[] = [];
  frame.forEach((issue, n) => {
    if (n === nullMark) append(out, pieces.nulls);
    else if (isNull(issue)) out.push(issue);
  });
  append(out, invariants);
  frame.forEach((issue, n) => {
    if (n === own) append(out, pieces.own);
    else if (n === end) append(out, pieces.inside);
    else if (!isNull(issue) && at(issue) !== "Bundle") out.push(issue);
  });
  return out;
}

/**
 * The Bundle's invariants (`bdl-*`) on the whole Bundle, as the validator checks them at its
 * root, with the same variables: the issues of the first that fails (two when it fails to run).
 * Yields after each.
 */
function* invariants(bundle: Record<string, unknown>): Generator<void, Issue[]> {
  const root = toTypedValue(bundle);
  const context = { ...root, path: "Bundle" };
  const variables = {
    "%context": context,
    "%ucum": toTypedValue(UCUM),
    "%resource": toTypedValue(bundle),
    "%rootResource": root,
  };
  const issues: Issue[] = [];
  for (const constraint of getDataType("Bundle").constraints ?? []) {
    if (constraint.severity !== "error" || UNCHECKED.has(constraint.key)) continue;
    let holds = false;
    try {
      const found = evalFhirPathTyped(constraint.expression, [context], variables);
      holds = found.length === 1 && found[0]?.value === true;
    } catch (error) {
      issues.push(
        createProcessingIssue("Bundle", "Error evaluating invariant expression", error as Error, {
          fhirpath: constraint.expression,
        }),
      );
    }
    if (!holds) {
      issues.push(createConstraintIssue("Bundle", constraint));
      break;
    }
    yield; // Some go through every entry (bdl-3, bdl-4, bdl-7).
  }
  return issues;
}

/** Adds `items` to `into` (no spread: there may be more than a call takes). */
export function append<T>(into: T[], items: readonly T[]): T[] {
  for (const item of items) into.push(item);
  return into;
}
