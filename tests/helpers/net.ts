/** Test helpers for sockets on loopback. */

import type { AddressInfo } from "node:net";
import { Hl7Server } from "@medplum/hl7";

/**
 * A TCP port that was free a moment ago on 127.0.0.1. Racy (another test may bind it before the
 * caller does): only for ports that must be known before they are bound; otherwise listen on
 * port 0 and read the port back. See {@link retryOnPortTaken}.
 */
export function freePort(): number {
  // Below the kernel's range for outgoing connections: a port picked there (as port 0 picks)
  // could be taken as the local port of any test's connection before the caller binds it (seen
  // in CI: "address already in use" at a restart, or at a cluster node's start). A port given
  // out lately is not given again (two listeners of one config got one port).
  const low = 20_000, high = ephemeralStart();
  for (let tries = 0;; tries++) {
    const port = high - low > 1_000 && tries < 200
      ? low + Math.floor(Math.random() * (high - low))
      : 0;
    let l: Deno.TcpListener;
    try {
      l = Deno.listen({ hostname: "127.0.0.1", port });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) continue;
      throw error;
    }
    const bound = (l.addr as Deno.NetAddr).port;
    l.close();
    if (givenOut.includes(bound)) continue;
    givenOut.push(bound);
    if (givenOut.length > 256) givenOut.shift();
    return bound;
  }
}

/** The first port of the kernel's range for outgoing connections (32768 where unknown). */
function ephemeralStart(): number {
  try {
    const first = Number(
      Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > 0 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** Ports {@link freePort} gave out lately, oldest first. */
const givenOut: number[] = [];

/**
 * Runs `start` again, at most `tries` times in all, while it fails because a port was taken
 * (`EADDRINUSE` anywhere in the error's `cause` chain): `start` chooses its {@link freePort}s
 * afresh each time, so the race those ports lose under `--parallel` costs a retry, not a failure.
 */
export async function retryOnPortTaken<T>(start: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= tries || !portTaken(error)) throw error;
    }
  }
}

function portTaken(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof Deno.errors.AddrInUse || (e as { code?: unknown }).code === "EADDRINUSE") {
      return true;
    }
  }
  return false;
}

/**
 * Polls `check` every 10 ms until it returns true, or fails after `timeoutMs` (30 s by default:
 * it returns as soon as `check` holds, and a slower machine running the whole suite has taken
 * more than 10 s for an engine's first delivery).
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An ADT^A01 with the given control id. */
export function adt(controlId: string, extra = ""): string {
  return [
    `MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||ADT^A01^ADT_A01|${controlId}|P|2.5.1|||AL|NE`,
    "EVN|A01|20240315123000",
    `PID|1||${controlId}^^^HOSP^MR||DOE^JANE${extra}||19800101|F`,
    "PV1|1|I|4WEST^412^B",
  ].join("\r");
}

/**
 * A real `Hl7Server` on a loopback port the system picks that answers every message with
 * `buildAck()` and keeps its text, in arrival order, in `received`.
 */
export async function startRecordingHl7Server(): Promise<
  { server: Hl7Server; port: number; received: string[] }
> {
  const received: string[] = [];
  const server = new Hl7Server((connection) => {
    connection.addEventListener("message", ({ message }) => {
      received.push(message.toString());
      connection.send(message.buildAck());
    });
  });
  return { server, port: await startHl7Server(server), received };
}

/** Starts a @medplum/hl7 `Hl7Server` on a loopback port the system picks; returns that port. */
export async function startHl7Server(server: Hl7Server): Promise<number> {
  await server.start(0);
  return (server.server!.address() as AddressInfo).port;
}
