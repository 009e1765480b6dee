/** Walking JSON in tests that check no value is lost on the way through a translation. */

/** Every non-null leaf of `v` as [path with indexes, path with `[]`, value]. */
export function leaves(
  v: unknown,
  at: string[] = [],
  generic: string[] = [],
): [string, string, unknown][] {
  if (Array.isArray(v)) {
    return v.flatMap((x, i) =>
      leaves(x, [...at, String(i)], [...generic.slice(0, -1), `${generic.at(-1)}[]`])
    );
  }
  if (typeof v === "object" && v !== null) {
    return Object.entries(v).flatMap(([k, x]) => leaves(x, [...at, k], [...generic, k]));
  }
  return v === null ? [] : [[at.join("."), generic.join("."), v]];
}

/** The value at a dotted path (`Patient.Identifiers.0.ID`), or undefined. */
export function at(v: unknown, path: string): unknown {
  let x = v;
  for (const k of path.split(".")) x = (x as Record<string, unknown> | undefined)?.[k];
  return x;
}
