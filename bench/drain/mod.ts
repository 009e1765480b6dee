/**
 * The bare drain (bare_drain.ts) run as the limit of the engine's drain, in the same run, and what
 * it cost: messages per second, and CPU per delivered message of its process, of the ACK server
 * and of the whole machine.
 * @module
 */

import { readUntil } from "../../tests/helpers/child_output.ts";
import {
  cpuByGroup,
  cpuSnapshot,
  type MachineCpu,
  machineCpu,
  machineShare,
  ticksPerSecond,
} from "../pipeline/cpu.ts";

/** What {@link runBareDrain} measured. */
export interface BareDrain {
  /** Messages delivered and completed in KV. */
  delivered: number;
  /** Delivered messages per second, from the first queue listed to the last completion. */
  msgPerS: number;
  /** The bare drain's own CPU per delivered message (every thread of its process), µs. */
  usPerMsg: number;
  /** The same by thread group (its JS thread, KV's SQLite thread, …), µs. */
  usPerMsgByThread: Record<string, number>;
  /** The ACK server's CPU per delivered message meanwhile, µs. */
  ackServerUsPerMsg: number;
  /** The whole machine's CPU per delivered message (every process), µs. */
  machineUsPerMsg: number;
  /** Cores busy on the whole machine meanwhile. */
  coresBusy: number;
  /** Group commits, and completions each carried. */
  commits: number;
  completionsPerCommit: number;
}

/**
 * Drains every queue of the KV file at `kvPath` (filled as the engine's is, with the store's
 * `accept`) to the destinations their ids name, with the bare drain in a child process; `ackPid`
 * is the ACK server's process, measured beside it.
 *
 * @example
 * ```ts ignore
 * const bare = await runBareDrain({ kvPath: `${dir}/bare.kv`, ackPid: ackServer.pid });
 * printLine(`bare drain: ${Math.round(bare.msgPerS)} msg/s`);
 * ```
 */
export async function runBareDrain(
  options: { kvPath: string; ackPid: number; timeoutMs?: number },
): Promise<BareDrain> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      new URL("./bare_drain.ts", import.meta.url).pathname,
      options.kvPath,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  let result: { delivered: number; ms: number; commits: number } | undefined;
  // The drain ends on its own; a hang is the bench's to end (it stops itself after 120 s).
  try {
    await readUntil(child.stdout, /"ready"/, options.timeoutMs);
    const tps = await ticksPerSecond();
    const cpu0 = cpuSnapshot(child.pid), ack0 = cpuSnapshot(options.ackPid);
    const machine0: MachineCpu = machineCpu();
    const t0 = performance.now();
    await writer.write(new TextEncoder().encode("go\n"));
    const out = await readUntil(child.stdout, /"delivered".*\n/, options.timeoutMs);
    result = JSON.parse(out.trim().split("\n").at(-1)!) as typeof result;
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuSnapshot(child.pid), ack1 = cpuSnapshot(options.ackPid);
    const machine = machineShare(machine0, machineCpu(), tps, seconds, result!.delivered);
    const us = (ticks: number) => Math.round(ticks * 1e6 / tps / Math.max(1, result!.delivered));
    return {
      delivered: result!.delivered,
      msgPerS: result!.delivered * 1000 / Math.max(1, result!.ms),
      usPerMsg: us(cpu1.total - cpu0.total),
      usPerMsgByThread: Object.fromEntries(
        cpuByGroup(child.pid, cpu0, cpu1, tps).map((row) => [row.group, us(row.ms * tps / 1000)]),
      ),
      ackServerUsPerMsg: us(ack1.total - ack0.total),
      machineUsPerMsg: Math.round(machine.usPerMsg),
      coresBusy: Math.round(machine.coresBusy * 10) / 10,
      commits: result!.commits,
      completionsPerCommit: Math.round(result!.delivered * 10 / Math.max(1, result!.commits)) /
        10,
    };
  } finally {
    await writer.close().catch(() => {});
    if (!result) {
      try {
        child.kill();
      } catch { /* ended */ }
    }
    await child.status;
  }
}
