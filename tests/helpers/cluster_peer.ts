/**
 * The receiving side of the scale-out tests: one MLLP listener per destination on loopback that
 * ACKs every frame after a short delay and records, per destination, every frame (control id,
 * time, the connection, and the engine process that sent it, found through /proc), and any
 * overlap — a frame arriving while an earlier one of the same destination is still unanswered,
 * i.e. two messages in flight to one destination.
 * @module
 */

import { buildAck, parseHl7 } from "../../codecs/hl7v2/mod.ts";
import { encodeMllp, MllpDecoder } from "../../codecs/mllp/mod.ts";

/** One frame as a destination saw it. */
export interface PeerFrame {
  controlId: string;
  at: number;
  /** The sending process (0 if it could not be found). */
  pid: number;
  /** Receiver-wide connection number, and when that connection was accepted. */
  connection: number;
  connectedAt: number;
}

/** What {@link startClusterPeer} returns. */
export interface ClusterPeer {
  /** The port of each destination, in order. */
  readonly ports: number[];
  /** Frames per destination index. */
  readonly frames: PeerFrame[][];
  /** Frames that arrived while another frame of the same destination was unanswered. */
  readonly overlaps: {
    destination: number;
    controlId: string;
    /** The unanswered frame it overlapped, and the connections of both. */
    with: string;
    connection: number;
    otherConnection: number;
  }[];
  /** The pids the sender lookup considers (the engine processes). */
  pids: number[];
  /**
   * Resolves once every frame received so far has its `pid` (the lookup runs aside, so a frame
   * just received may still say 0): read pids after this, not straight after waiting for frames.
   */
  sendersKnown(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Finds the process behind a connection's remote port: /proc/net/tcp gives the socket's inode,
 * /proc/<pid>/fd the process holding it. One scan serves every lookup made while it runs.
 */
class SenderLookup {
  #map = new Map<string, number>();
  #builtAt = 0;
  #scan: Promise<void> | undefined;

  constructor(readonly pids: () => number[]) {}

  /**
   * The pid behind the connection from `port` to `to`, from a scan begun after `since`. Keyed by
   * both ends: one ephemeral port may be open in two processes at once, to two destinations (a
   * frozen node keeps its sockets while another node connects from the same port elsewhere).
   */
  async pidOf(port: number, to: number, since: number): Promise<number> {
    const key = `${port}>${to}`;
    for (let i = 0; i < 5; i++) {
      if (this.#builtAt > since && this.#map.has(key)) return this.#map.get(key)!;
      const scan = this.#scan ??= this.#rescan().finally(() => (this.#scan = undefined));
      await scan;
    }
    return 0;
  }

  async #rescan(): Promise<void> {
    const startedAt = performance.now();
    const map = new Map<string, number>();
    const owner = new Map<string, number>();
    for (const pid of this.pids()) {
      try {
        for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
          const link = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`).catch(() => "");
          const m = /^socket:\[(\d+)\]$/.exec(link);
          if (m) owner.set(m[1]!, pid);
        }
      } catch { /* exited */ }
    }
    const table = await Deno.readTextFile("/proc/net/tcp").catch(() => "");
    for (const line of table.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const port = parseInt(f[1]?.split(":")[1] ?? "", 16);
      const to = parseInt(f[2]?.split(":")[1] ?? "", 16);
      const pid = owner.get(f[9] ?? "");
      if (pid && port && to) map.set(`${port}>${to}`, pid);
    }
    this.#map = map;
    this.#builtAt = startedAt;
  }
}

/** Starts `count` destinations; each ACKs after `ackDelayMs`. */
export function startClusterPeer(count: number, ackDelayMs = 2): ClusterPeer {
  const frames: PeerFrame[][] = Array.from({ length: count }, () => []);
  const overlaps: ClusterPeer["overlaps"] = [];
  const unanswered = new Array<number>(count).fill(0);
  const listeners: Deno.Listener[] = [];
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let connections = 0;
  const lookups = new Set<Promise<unknown>>();
  const peer: ClusterPeer = {
    ports: [],
    frames,
    overlaps,
    pids: [],
    async sendersKnown() {
      await Promise.all([...lookups]);
    },
    async close() {
      for (const l of listeners) l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await Promise.allSettled([...tasks]);
    },
  };
  const lookup = new SenderLookup(() => peer.pids);
  const serve = async (conn: Deno.Conn, destination: number) => {
    const connection = ++connections;
    const connectedAt = Date.now();
    const remote = (conn.remoteAddr as Deno.NetAddr).port;
    const local = (conn.localAddr as Deno.NetAddr).port;
    // Looked up aside: the ACK never waits for it.
    const pid = lookup.pidOf(remote, local, performance.now()).catch(() => 0);
    const decoder = new MllpDecoder();
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        for (const event of decoder.push(buf.subarray(0, n))) {
          if (event.type !== "frame") continue;
          const message = parseHl7(new TextDecoder().decode(event.payload));
          const controlId = message.get("MSH-10") ?? "";
          const overlap = unanswered[destination]! > 0;
          unanswered[destination]!++;
          const frame = { controlId, at: Date.now(), pid: 0, connection, connectedAt };
          frames[destination]!.push(frame);
          if (overlap) {
            const last = frames[destination]!.at(-2);
            overlaps.push({
              destination,
              controlId,
              with: last?.controlId ?? "",
              connection,
              otherConnection: last?.connection ?? 0,
            });
          }
          const known = pid.then((p) => (frame.pid = p));
          lookups.add(known);
          known.finally(() => lookups.delete(known));
          await new Promise((r) => setTimeout(r, ackDelayMs));
          unanswered[destination]!--;
          const ack = encodeMllp(
            new TextEncoder().encode(buildAck(message, { code: "AA" }).encode()),
          );
          let off = 0;
          while (off < ack.length) off += await conn.write(ack.subarray(off));
        }
      }
    } catch {
      /* reset by a killed engine */
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  for (let d = 0; d < count; d++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    listeners.push(l);
    peer.ports.push((l.addr as Deno.NetAddr).port);
    const accept = async () => {
      try {
        for await (const conn of l) {
          conns.add(conn);
          const t = serve(conn, d);
          tasks.add(t);
          t.finally(() => tasks.delete(t));
        }
      } catch { /* closed */ }
    };
    const t = accept();
    tasks.add(t);
  }
  return peer;
}
