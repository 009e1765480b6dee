/**
 * A disk that stops answering, for tests of the hosted folder running in this process: the next
 * read or write of an open file (`Deno.FsFile`) stalls. A synchronous call blocks the thread it is
 * made on (the engine's only JS thread) for `blockMs`, as a read or write on a stuck disk does; an
 * asynchronous one waits off the thread, until {@link StalledDisk.release} (or 30 s, in case a
 * test forgets). Only that one call stalls; {@link StalledDisk.restore} puts the real calls back.
 * @module
 */

/** The stall of one file read or write. */
export interface StalledDisk {
  /** Resolves when the stalled call began. */
  stalled: Promise<void>;
  /** Whether that call is still stalled. */
  readonly stuck: boolean;
  /** Lets an asynchronous stalled call go on. */
  release(): void;
  /** Puts the real calls back (idempotent). */
  restore(): void;
}

type Io = (this: Deno.FsFile, p: Uint8Array) => unknown;

/** Stalls the next `kind` (`read` or `write`, synchronous or not) of any open file. */
export function stallNext(kind: "read" | "write", blockMs = 2500): StalledDisk {
  const proto = Deno.FsFile.prototype as unknown as Record<string, Io>;
  const syncName = `${kind}Sync`;
  const realAsync = proto[kind]!;
  const realSync = proto[syncName]!;
  let armed = true;
  let stuck = false;
  let began!: () => void;
  const stalled = new Promise<void>((resolve) => (began = resolve));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let letGo!: () => void;
  const gate = new Promise<void>((resolve) => (letGo = resolve));
  proto[syncName] = function (p) {
    if (armed) {
      armed = false;
      stuck = true;
      began();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, blockMs);
      stuck = false;
    }
    return realSync.call(this, p);
  };
  proto[kind] = async function (p) {
    if (armed) {
      armed = false;
      stuck = true;
      began();
      timer = setTimeout(letGo, 30_000);
      await gate;
      clearTimeout(timer);
      stuck = false;
    }
    return await realAsync.call(this, p);
  };
  let restored = false;
  return {
    stalled,
    get stuck() {
      return stuck;
    },
    release() {
      letGo();
    },
    restore() {
      if (restored) return;
      restored = true;
      letGo();
      clearTimeout(timer);
      proto[kind] = realAsync;
      proto[syncName] = realSync;
    },
  };
}

/** The longest gap between ticks of a 5 ms interval, from now until `stop()`. */
export function watchEventLoop(): { stop(): number } {
  let last = performance.now();
  let worst = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  return {
    stop() {
      clearInterval(tick);
      return Math.max(worst, performance.now() - last);
    },
  };
}
