/**
 * Real OpenSSH peers for SFTP tests (Debian's `openssh-server` and `openssh-client`):
 *
 * - {@link makeKey}: a throwaway key pair from `ssh-keygen`, with its `SHA256:` fingerprint;
 * - {@link startSshd}: `sshd -D -e -f <config>` on a free loopback port, key-only login for the
 *   current user, `internal-sftp` starting in a temp folder;
 * - {@link sftpBatch}: OpenSSH's `sftp` client in batch mode;
 * - {@link startTcpProxy}: a loopback relay that counts bytes and can run a callback once a
 *   given number have passed (to cut a transfer mid-file at a known point).
 *
 * Everything started here is stopped by its `stop()`; tests call it in `finally`.
 * @module
 */

import { freePort } from "./net.ts";

const decoder = new TextDecoder();

/** A key pair written to a folder. */
export interface KeyPair {
  privatePath: string;
  publicPath: string;
  privateKey: string;
  /** The `.pub` line. */
  publicKey: string;
  /** `SHA256:…` as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${decoder.decode(out.stderr)}`);
  }
  return decoder.decode(out.stdout);
}

/** Makes a key pair with `ssh-keygen` (RSA 3072 by default) in `dir`. */
export async function makeKey(
  dir: string,
  name: string,
  options: { type?: "rsa" | "ed25519"; bits?: number; passphrase?: string } = {},
): Promise<KeyPair> {
  const privatePath = `${dir}/${name}`;
  const type = options.type ?? "rsa";
  await run("ssh-keygen", [
    "-q",
    "-t",
    type,
    ...(type === "rsa" ? ["-b", String(options.bits ?? 3072)] : []),
    "-N",
    options.passphrase ?? "",
    "-C",
    name,
    "-f",
    privatePath,
  ]);
  const fingerprint = (await run("ssh-keygen", ["-lf", `${privatePath}.pub`])).split(" ")[1]!;
  return {
    privatePath,
    publicPath: `${privatePath}.pub`,
    privateKey: await Deno.readTextFile(privatePath),
    publicKey: (await Deno.readTextFile(`${privatePath}.pub`)).trim(),
    fingerprint,
  };
}

const shared = new Map<string, Promise<KeyPair>>();
let sharedDir: string | undefined;

/**
 * A key pair made once per test process and shared by the tests in it (RSA generation takes
 * a second on a busy machine); removed when the process ends.
 */
export function testKey(
  name: string,
  options: { type?: "rsa" | "ed25519"; passphrase?: string } = {},
): Promise<KeyPair> {
  let key = shared.get(name);
  if (!key) {
    if (!sharedDir) {
      const dir = Deno.makeTempDirSync({ prefix: "sftp-test-keys-" });
      sharedDir = dir;
      globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    }
    // 2048-bit RSA: the engine's minimum, and four times quicker to make than 3072.
    key = makeKey(sharedDir, name, { bits: 2048, ...options });
    shared.set(name, key);
  }
  return key;
}

/** The user tests log in as: whoever runs them (sshd can only log in as itself unless root). */
export function currentUser(): string {
  const uid = Deno.uid();
  const entry = Deno.readTextFileSync("/etc/passwd").split("\n")
    .map((line) => line.split(":"))
    .find((f) => f[2] === String(uid));
  return entry?.[0] ?? Deno.env.get("USER") ?? String(uid);
}

const SSHD = "/usr/sbin/sshd";
const SFTP_SERVER = "/usr/lib/openssh/sftp-server";

/** A running sshd. */
export interface Sshd {
  port: number;
  user: string;
  hostKey: KeyPair;
  /** The folder `internal-sftp` starts in (also valid as an absolute path). */
  files: string;
  /** sshd's log lines so far (connections, logins). */
  lines: string[];
  /** With `sftpLog`: the SFTP server's log lines so far (open, close, rename...). */
  sftpLog(): Promise<string[]>;
  /** Replaces the accepted public keys (takes effect for the next login). */
  authorize(...publicKeys: string[]): Promise<void>;
  /** SIGKILLs every session process (the listener stays): connections die mid-transfer. */
  killSessions(): void;
  /** Stops sshd and everything it started, and removes its folder. */
  stop(): Promise<void>;
}

/** Starts sshd; see the module doc. */
export async function startSshd(
  options: {
    authorizedKeys?: string[];
    hostKey?: KeyPair;
    port?: number;
    /** Serve SFTP with OpenSSH's `sftp-server` logging every file operation (see `sftpLog`). */
    sftpLog?: boolean;
  } = {},
): Promise<Sshd> {
  try {
    await Deno.stat(SSHD);
  } catch {
    throw new Error(
      `${SSHD} not found: these tests need Debian's openssh-server (and openssh-client)`,
    );
  }
  // sshd running as root insists on its privilege-separation folder.
  if (Deno.uid() === 0) await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = await Deno.makeTempDir({ prefix: "sshd-" });
  const files = `${dir}/files`;
  await Deno.mkdir(files);
  const hostKey = options.hostKey ?? await testKey("sshd_host", { type: "ed25519" });
  const authorizedKeys = `${dir}/authorized_keys`;
  const authorize = (...keys: string[]) =>
    Deno.writeTextFile(authorizedKeys, keys.join("\n") + "\n", { mode: 0o600 });
  await authorize(...(options.authorizedKeys ?? []));
  // sshd (an external process) binds it and cannot report a port 0: chosen ahead, raced for.
  const port = options.port ?? freePort();
  const user = currentUser();
  await Deno.writeTextFile(
    `${dir}/sshd_config`,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey.privatePath}`,
      "PidFile none",
      `AuthorizedKeysFile ${authorizedKeys}`,
      "StrictModes no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin prohibit-password",
      `AllowUsers ${user}`,
      "LogLevel VERBOSE",
      options.sftpLog
        // sftp-server (run by the user's shell, so its stderr can go to a file) logs at INFO each
        // open (with its flags), close (with the bytes written) and rename it serves.
        ? `Subsystem sftp ${SFTP_SERVER} -e -l INFO -d ${files} 2>>${dir}/sftp.log`
        : `Subsystem sftp internal-sftp -d ${files}`,
      "",
    ].join("\n"),
  );
  const child = new Deno.Command(SSHD, {
    args: ["-D", "-e", "-f", `${dir}/sshd_config`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const { promise: listening, resolve: ready } = Promise.withResolvers<void>();
  const reading = (async () => {
    let rest = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        if (line.includes("Server listening on")) ready();
      }
    }
    if (rest) lines.push(rest);
  })();
  const exited = child.status;
  const started = await Promise.race([
    listening.then(() => "ok" as const),
    exited.then(() => "exited" as const),
    new Promise<"timeout">((r) => {
      const t = setTimeout(() => r("timeout"), 10_000);
      listening.finally(() => clearTimeout(t));
      exited.finally(() => clearTimeout(t));
    }),
  ]);
  const killSessions = () => {
    for (const pid of descendants(child.pid)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  const stop = async () => {
    killSessions();
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await exited;
    await reading;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  if (started !== "ok") {
    await stop();
    throw new Error(`sshd did not start (${started}):\n${lines.join("\n")}`);
  }
  const sftpLog = async () =>
    (await Deno.readTextFile(`${dir}/sftp.log`).catch(() => "")).split(/\r?\n/).filter((l) => l);
  return { port, user, hostKey, files, lines, sftpLog, authorize, killSessions, stop };
}

/** Every process below `pid` (children first found through /proc). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    let children: string;
    try {
      children = Deno.readTextFileSync(`/proc/${parent}/task/${parent}/children`);
    } catch {
      continue;
    }
    for (const c of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** What an `sftp -b` run printed. */
export interface BatchResult {
  success: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs OpenSSH's `sftp` in batch mode with `commands` (a failing command ends the batch). */
export async function sftpBatch(options: {
  port: number;
  user: string;
  key: string;
  commands: string[];
  cwd?: string;
  /** Extra `sftp` arguments, e.g. `["-l", "16000"]` to limit bandwidth. */
  args?: string[];
  /** Runs with the child, e.g. to kill it mid-transfer. */
  during?: (child: Deno.ChildProcess) => Promise<void>;
}): Promise<BatchResult> {
  const dir = await Deno.makeTempDir({ prefix: "sftp-batch-" });
  try {
    const batch = `${dir}/batch`;
    await Deno.writeTextFile(batch, options.commands.join("\n") + "\n");
    const child = new Deno.Command("sftp", {
      args: [
        "-b",
        batch,
        "-i",
        options.key,
        "-P",
        String(options.port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        ...(options.args ?? []),
        `${options.user}@127.0.0.1`,
      ],
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const [out] = await Promise.all([child.output(), options.during?.(child)]);
    return {
      success: out.success,
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A running relay. */
export interface TcpProxy {
  port: number;
  /** Bytes relayed so far, each way. */
  readonly up: number;
  readonly down: number;
  /** Runs `action` once, as soon as `bytes` have gone `way` (counted from now). */
  when(way: "up" | "down", bytes: number, action: () => void): void;
  stop(): Promise<void>;
}

/** Relays 127.0.0.1:<port> to 127.0.0.1:`target`; see the module doc. */
export function startTcpProxy(target: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const pipes: Promise<void>[] = [];
  const counts = { up: 0, down: 0 };
  let trigger: { way: "up" | "down"; at: number; action: () => void } | undefined;
  const count = (way: "up" | "down", n: number) => {
    counts[way] += n;
    if (trigger && trigger.way === way && counts[way] >= trigger.at) {
      const { action } = trigger;
      trigger = undefined;
      action();
    }
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, way: "up" | "down") => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        count(way, n);
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // one side went away
    }
    for (const c of [from, to]) {
      if (conns.delete(c)) c.close();
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      try {
        const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
        conns.add(client);
        conns.add(server);
        pipes.push(pump(client, server, "up"), pump(server, client, "down"));
      } catch {
        client.close();
      }
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get up() {
      return counts.up;
    },
    get down() {
      return counts.down;
    },
    when(way, bytes, action) {
      trigger = { way, at: counts[way] + bytes, action };
    },
    async stop() {
      listener.close();
      await accepting.catch(() => {});
      for (const c of conns) c.close();
      conns.clear();
      await Promise.all(pipes);
    },
  };
}
