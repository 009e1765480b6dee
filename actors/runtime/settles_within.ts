/**
 * Waiting for something for a bounded real time: a stop's grace, a drain's share of it.
 * @module
 */

/**
 * Whether `promise` settles (fulfilled or rejected) within `ms` of real time. It is not
 * cancelled either way, and a rejection is observed here (never unhandled), not rethrown.
 *
 * @example
 * ```ts
 * if (!(await settlesWithin(drained, 2_000))) console.log("still draining after 2 s");
 * ```
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise.then(() => true, () => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
