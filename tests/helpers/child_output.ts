/**
 * The first line a child process prints, for children that announce themselves before they serve
 * (a port, "held"): read within a deadline, then the rest drained aside so the pipe never fills.
 * @module
 */

/**
 * Reads `stream` up to its first newline within `ms`; returns that line and keeps draining the rest
 * in the background. `what` names the child in the errors.
 *
 * @example
 * ```ts
 * const { ports } = JSON.parse(await firstLine(child.stdout, "the ack server"));
 * ```
 */
export async function firstLine(
  stream: ReadableStream<Uint8Array>,
  what: string,
  ms = 30_000,
): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = performance.now() + ms;
  while (!text.includes("\n")) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) =>
      timer = setTimeout(() => r("late"), Math.max(0, deadline - performance.now()))
    );
    const got = await Promise.race([reader.read(), late]);
    clearTimeout(timer);
    if (got === "late") throw new Error(`${what}: no first line in ${ms / 1000} s`);
    if (got.done) throw new Error(`${what} ended before printing its first line`);
    text += got.value;
  }
  void (async () => {
    try {
      while (!(await reader.read()).done) { /* drain */ }
    } catch { /* closed */ }
  })();
  return text.split("\n")[0]!;
}
