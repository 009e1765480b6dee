/**
 * The kernel's accept queue of a listening TCP socket, read from `/proc/net/tcp` and
 * `/proc/net/tcp6` (Linux). Those files list every TCP socket of the host, and reading one whole
 * is the kernel formatting all of them: with 10,000 sockets, 1.5 MB and 30–75 ms, synchronously, on
 * the event loop, every check of every watched listener. The kernel lists the listening sockets
 * first (then the other states), so the read stops at the first socket in another state; and only
 * the file of the listener's address family is read ({@link procNetTcpFor}). With 10,000 sockets,
 * 0.3–0.7 ms instead of 30–75.
 * @module
 */

/** The files read, IPv4 then IPv6. */
export const PROC_NET_TCP = ["/proc/net/tcp", "/proc/net/tcp6"] as const;

/**
 * The files that list a socket listening on `hostname`: an IPv4 address's in `/proc/net/tcp`, an
 * IPv6 address's (`::` included, dual-stack) in `/proc/net/tcp6`, a name's in either. Reading only
 * the one that matters counts: to find where the other's listening sockets end, the kernel walks
 * every socket of the host (5 ms with 10,000 IPv4 sockets, for an empty `/proc/net/tcp6`).
 */
export function procNetTcpFor(hostname: string): readonly string[] {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(hostname)) return [PROC_NET_TCP[0]];
  if (hostname.includes(":")) return [PROC_NET_TCP[1]];
  return PROC_NET_TCP;
}

/** Bytes read at a time: about 27 sockets' lines (the kernel formats as many as the read takes). */
const CHUNK = 4 * 1024;
/** LISTEN, in the files' hex state column. */
const LISTEN = "0A";
/**
 * SYN_RECV: a connection being opened. Kernels before 4.4 listed these among the listening
 * sockets (after their listener), so they do not end the listening section.
 */
const SYN_RECV = "03";

/**
 * Connections waiting in the accept queue of the socket listening on `port` (any address);
 * undefined where none of `files` exists, null when they could not be read (the process out of
 * file descriptors, say).
 *
 * @example
 * ```ts
 * const waiting = kernelAcceptQueue(8443); // 0 while the server keeps up
 * ```
 */
export function kernelAcceptQueue(
  port: number,
  files: readonly string[] = PROC_NET_TCP,
): number | undefined | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let found = false;
  let waiting = 0;
  for (const file of files) {
    let lines: string[];
    try {
      lines = listeningLines(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      return null;
    }
    found = true;
    for (const fields of lines) {
      // "  0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 …": local, remote, state, tx:rx.
      const f = fields.trim().split(/\s+/);
      if (f[3] !== LISTEN || !f[1]?.endsWith(`:${hexPort}`)) continue;
      const rx = f[4]?.split(":")[1];
      if (rx) waiting += parseInt(rx, 16) || 0;
    }
  }
  return found ? waiting : undefined;
}

/**
 * The lines of the listening sockets at the head of `file` (a `/proc/net/tcp`-style file), read a
 * chunk at a time up to the first socket in another state (see the module doc).
 */
export function listeningLines(file: string): string[] {
  const f = Deno.openSync(file);
  try {
    const decoder = new TextDecoder();
    const buf = new Uint8Array(CHUNK);
    const out: string[] = [];
    let carry = "";
    let header = true;
    while (true) {
      const n = f.readSync(buf);
      const last = n === null || n === 0;
      const text = carry + (last ? decoder.decode() : decoder.decode(buf.subarray(0, n), {
        stream: true,
      }));
      const lines = text.split("\n");
      carry = last ? "" : lines.pop()!;
      for (const line of lines) {
        if (header) {
          header = false; // "  sl  local_address rem_address   st …"
          continue;
        }
        if (line.trim() === "") continue;
        const state = line.trim().split(/\s+/, 4)[3];
        if (state === LISTEN) out.push(line);
        else if (state !== SYN_RECV) return out; // past the listening sockets
      }
      if (last) return out;
    }
  } finally {
    f.close();
  }
}
