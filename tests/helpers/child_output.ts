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

/**
 * Reads `stream` until `pattern` shows in what came, returning everything read; the reader is
 * released, so the caller may read on. Fails when the output ends first or after `timeoutMs`
 * (checked as each chunk comes).
 */
export async function readUntil(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  timeoutMs = 15_000,
): Promise<string> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (!pattern.test(text)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in output:\n${text}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`output ended without ${pattern}:\n${text}`);
      text += dec.decode(value);
    }
  } finally {
    reader.releaseLock();
  }
  return text;
}
