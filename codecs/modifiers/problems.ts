/**
 * Validation problems and run-time failures of modifiers and HL7 edits. Problems carry paths
 * relative to the list they were found in (`[0].schema.if.operator`), so that the config check
 * can prefix its own location (`subscriptions[2].modifiers`).
 *
 * @module
 */

/** One thing wrong with a modifier list, an edit list or a translation set. */
export interface Problem {
  /** Where, relative to the validated value: `[0].schema.if.operator`, `.localSex.onMissing`. */
  readonly path: string;
  /** What is wrong: `unknown operator "equal" (known: equals, notEquals, …)`. */
  readonly message: string;
}

/** Collects problems while compiling. */
export class Problems {
  /** The problems found so far. */
  readonly list: Problem[] = [];

  /** Records a problem at `path`. */
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }

  /** Whether none were found. */
  get ok(): boolean {
    return this.list.length === 0;
  }
}

/** Formats problems as `prefix` + path + `: ` + message, one per entry. */
export function formatProblems(problems: readonly Problem[], prefix = ""): string[] {
  return problems.map((p) => `${prefix}${p.path}: ${p.message}`);
}

/** Joins a path and a key the way the problem paths read (`a.b`, `a[2]`). */
export function at(path: string, key: string | number): string {
  return typeof key === "number" ? `${path}[${key}]` : `${path}.${key}`;
}

/**
 * A modifier or edit that could not be applied to a message. Its message names the modifier,
 * the schema keyword and the payload location, never a value from the message (they may be PHI).
 */
export class ModifierFailure extends Error {
  /** Index of the failing modifier or edit in its list. */
  readonly index: number;
  /** Its `name`, when it has one. */
  readonly modifierName?: string;
  /** Where in its definition: `schema.translate`, `schema.properties.Sex.get`. */
  readonly at: string;
  /** The payload location it was working on: `Patient.Demographics.Sex`, `PID-8`. */
  readonly target: string;
  /** Why, without values. */
  readonly reason: string;

  /**
   * A failure of modifier (or, with `kind` "edit", HL7 edit) `index` at definition path `at` on
   * payload location `target`.
   */
  constructor(
    index: number,
    name: string | undefined,
    at: string,
    target: string,
    reason: string,
    kind: "modifier" | "edit" = "modifier",
  ) {
    const who = name === undefined ? `[${index}]` : `[${index}] (${name})`;
    super(`${kind} ${who} ${at} at ${target || "the root"}: ${reason}`);
    this.name = "ModifierFailure";
    this.index = index;
    if (name !== undefined) this.modifierName = name;
    this.at = at;
    this.target = target;
    this.reason = reason;
  }
}

/** Thrown inside an evaluation; the applier turns it into a {@link ModifierFailure}. */
export class EvalError extends Error {
  /** Definition path relative to the modifier (`schema.translate`). */
  readonly at: string;
  /** A failure at `at` with a reason free of message values. */
  constructor(at: string, reason: string) {
    super(reason);
    this.name = "EvalError";
    this.at = at;
  }
}
