/**
 * SFTP benchmark: a 30 MB file up and down, through the engine's SFTP client and server, next to
 * OpenSSH's `sftp` client against OpenSSH's `sshd` in the same run:
 *
 * - engine client (`SshSftpConnector`, ssh2 under Deno) → sshd: upload (`write`) and download
 *   (`read`), each a whole session (connect, log in, transfer, close);
 * - OpenSSH `sftp` → engine server (`HostedSftpServer`): `put` (taken in by a no-op `onUpload`,
 *   then archived) and `get` from the user's outbox;
 * - OpenSSH `sftp` → sshd: `put` and `get`, the reference.
 *
 * The reference runs twice: with OpenSSH's defaults (ChaCha20-Poly1305 between two OpenSSHs) and
 * with AES-128-GCM forced (what ssh2 prefers); each ratio is the engine figure's throughput over
 * the better of the two, so a cipher choice cannot flatter the engine. Target ≥ 0.5. One more
 * figure, for information: the `put` to the engine server with the real `FileInbox` storing the
 * file durably in KV before the client's close is answered.
 *
 * Rounds alternate the contenders; medians are reported. Loopback only; about 30 s.
 * Run: `deno run -A bench/sftp.ts [rounds=3]`.
 *
 * @module
 */

import { Secret } from "../actors/config/secret.ts";
import { memoryLogger } from "../actors/runtime/log.ts";
import type { SftpConnectOptions } from "../actors/sftp/connector.ts";
import { FileInbox } from "../actors/sftp/file_inbox.ts";
import { isTemporaryName } from "../codecs/files/mod.ts";
import { Store } from "../actors/store/mod.ts";
import { SshSftpConnector } from "../transports/sftp/client.ts";
import { HostedSftpServer, type Upload } from "../transports/sftp/server.ts";
import { makeKey, sftpBatch, startSshd } from "../tests/helpers/sshd.ts";
import { hasTool, systemToolsRequired } from "../tests/helpers/system_tools.ts";
import { median, printJson, printLine, printTable } from "./harness.ts";

// Without OpenSSH there is no peer to compare with: say what to install instead of dying.
const absent = (["sshd", "sftp", "ssh-keygen"] as const).filter((t) => !hasTool(t));
if (absent.length > 0 && !systemToolsRequired()) {
  const skipped = `needs ${absent.join(", ")}: apt-get install openssh-server openssh-client`;
  printLine(`sftp: skipped, ${skipped}`);
  printJson({ bench: "sftp", skipped });
  Deno.exit(0);
}

const ROUNDS = Number(Deno.args[0] ?? 3);
const SIZE = 30 * 1000 * 1000;
const MB = 1000 * 1000;

const guard = setTimeout(() => {
  printLine("sftp: timed out after 120 s");
  Deno.exit(2);
}, 120_000);
Deno.unrefTimer(guard);

const dir = await Deno.makeTempDir({ prefix: "bench-sftp-" });
const data = new Uint8Array(SIZE);
for (let i = 0; i < SIZE; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
await Deno.writeFile(`${dir}/file.bin`, data);

/** Undone in reverse order when the run ends, failed or not. */
const cleanups: (() => void | Promise<void>)[] = [() => Deno.remove(dir, { recursive: true })];

/** Sets everything up, measures, and returns the result line's fields. */
async function main(): Promise<Record<string, unknown>> {
  const [clientKey, serverHostKey] = await Promise.all([
    makeKey(dir, "client"),
    makeKey(dir, "engine_host", { type: "ed25519" }),
  ]);
  const sshd = await startSshd({ authorizedKeys: [clientKey.publicKey] });
  cleanups.push(() => sshd.stop());

  let onUpload: (u: Upload) => Promise<void> = () => Promise.resolve();
  const server = await HostedSftpServer.start({
    hostname: "127.0.0.1",
    port: 0,
    hostKey: serverHostKey.privateKey,
    root: `${dir}/hosted`,
    users: [{ name: "bench", publicKeys: [clientKey.publicKey], integration: "bench" }],
    maxConnectionsPerIp: 10,
    maxFailedLoginsPerIp: 5,
    maxFileBytes: 30 * 1024 * 1024,
    onUpload: (u) => onUpload(u),
    holdBack: isTemporaryName,
    log: memoryLogger(),
    rescanIntervalMs: 0,
  });
  cleanups.push(() => server.stop());
  await Deno.writeFile(`${server.outbox("bench")}/file.bin`, data);

  const store = await Store.open({ path: `${dir}/engine.kv`, node: "bench" });
  cleanups.push(() => store.close());
  const inbox = new FileInbox({
    store,
    log: memoryLogger(),
    dedupeWindowSeconds: 60,
    fallbackCharset: "windows-1252",
    maxFileBytes: 30 * 1024 * 1024,
    notify: () => {},
  });

  const connector = new SshSftpConnector();
  const login: SftpConnectOptions = {
    host: "127.0.0.1",
    port: sshd.port,
    user: sshd.user,
    privateKey: new Secret(clientKey.privateKey, "bench").reveal(),
    hostKeyFingerprint: sshd.hostKey.fingerprint,
  };

  /** Milliseconds `fn` takes. */
  async function time(fn: () => Promise<void>): Promise<number> {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  }

  async function openssh(
    port: number,
    user: string,
    command: string,
    args: string[] = [],
  ): Promise<void> {
    const r = await sftpBatch({
      port,
      user,
      key: clientKey.privatePath,
      commands: [command],
      cwd: dir,
      args,
    });
    if (!r.success) throw new Error(`sftp ${command}: ${r.stderr}`);
  }

  /** The cipher OpenSSH's client negotiates with the server on `port`. */
  async function negotiated(port: number, user: string): Promise<string> {
    const r = await sftpBatch({
      port,
      user,
      key: clientKey.privatePath,
      commands: ["pwd"],
      args: ["-v", "-o", "LogLevel=DEBUG1"],
    });
    return /kex: client->server cipher: (\S+)/.exec(r.stderr)?.[1] ?? "?";
  }

  /** OpenSSH's own fastest common choice on this machine, for a second reference. */
  const GCM = ["-o", "Ciphers=aes128-gcm@openssh.com"];

  async function check(path: string): Promise<void> {
    const got = await Deno.readFile(path);
    if (got.length !== SIZE || got[SIZE - 1] !== data[SIZE - 1] || got[12345] !== data[12345]) {
      throw new Error(`${path} is not the file sent`);
    }
    await Deno.remove(path);
  }

  let uploads = 0;
  const contenders: Record<string, () => Promise<number>> = {
    "openssh → sshd put": () =>
      time(() => openssh(sshd.port, sshd.user, `put file.bin ${sshd.files}/up.bin`)).then(
        async (ms) => (await check(`${sshd.files}/up.bin`), ms),
      ),
    "openssh → sshd get": () =>
      time(() => openssh(sshd.port, sshd.user, `get ${dir}/file.bin got.bin`)).then(
        async (ms) => (await check(`${dir}/got.bin`), ms),
      ),
    "openssh → sshd put (aes128-gcm)": () =>
      time(() => openssh(sshd.port, sshd.user, `put file.bin ${sshd.files}/up.bin`, GCM)).then(
        async (ms) => (await check(`${sshd.files}/up.bin`), ms),
      ),
    "openssh → sshd get (aes128-gcm)": () =>
      time(() => openssh(sshd.port, sshd.user, `get ${dir}/file.bin got.bin`, GCM)).then(
        async (ms) => (await check(`${dir}/got.bin`), ms),
      ),
    "engine client → sshd upload": () =>
      time(async () => {
        const s = await connector.connect(login);
        await s.write("client-up.bin", data);
        s.close();
      }).then(async (ms) => (await check(`${sshd.files}/client-up.bin`), ms)),
    "engine client → sshd download": async () => {
      let got: Uint8Array | undefined;
      const ms = await time(async () => {
        const s = await connector.connect(login);
        got = await s.read(`${dir}/file.bin`, { maxBytes: SIZE });
        s.close();
      });
      if (got?.length !== SIZE || got[SIZE - 1] !== data[SIZE - 1]) throw new Error("bad download");
      return ms;
    },
    "openssh → engine server put": () =>
      time(() => openssh(server.port, "bench", `put file.bin up-${++uploads}.bin`)),
    "openssh → engine server get": () =>
      time(() => openssh(server.port, "bench", "get outbox/file.bin served.bin")).then(
        async (ms) => (await check(`${dir}/served.bin`), ms),
      ),
  };

  const ciphers = {
    opensshToSshd: await negotiated(sshd.port, sshd.user),
    opensshToEngineServer: await negotiated(server.port, "bench"),
    engineClientToSshd: "aes128-gcm@openssh.com (ssh2's first choice, which sshd offers)",
  };
  printLine(`ciphers: ${JSON.stringify(ciphers)}`);

  const samples = new Map<string, number[]>(Object.keys(contenders).map((k) => [k, []]));
  const stored: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(contenders)) samples.get(name)!.push(await run());
    // For information: the same put, with the file stored durably in KV before the close's answer.
    onUpload = async (u) => {
      const r = await inbox.ingest({
        integration: { id: "bench", environment: "dev" },
        fileName: u.fileName,
        bytes: u.bytes,
        peer: u.peer,
      });
      if (r.stored + r.duplicates !== 1) throw new Error("not stored");
    };
    stored.push(
      await time(() => openssh(server.port, "bench", `put file.bin stored-${round}.bin`)),
    );
    onUpload = () => Promise.resolve();
    // Each round's copies would make the next round's uploads "duplicates": fine, same cost.
    await Deno.remove(`${dir}/hosted/bench/archive`, { recursive: true });
    await Deno.mkdir(`${dir}/hosted/bench/archive`);
  }

  const mbps = (name: string) => SIZE / MB / (median(samples.get(name)!) / 1000);
  const rows = [...samples.keys()].map((name) => [
    name,
    Math.round(median(samples.get(name)!)),
    Number(mbps(name).toFixed(1)),
  ]);
  rows.push([
    "openssh → engine server put + KV store",
    Math.round(median(stored)),
    Number((SIZE / MB / (median(stored) / 1000)).toFixed(1)),
  ]);
  printLine(`30 MB (${SIZE} bytes), ${ROUNDS} rounds, medians; each a whole session incl. login`);
  printTable(["transfer", "ms", "MB/s"], rows);

  /** The better of OpenSSH's two runs (default settings, and forced AES-GCM). */
  const best = (way: "put" | "get") =>
    Math.max(mbps(`openssh → sshd ${way}`), mbps(`openssh → sshd ${way} (aes128-gcm)`));
  const ratio = (engine: string, way: "put" | "get") =>
    Number((mbps(engine) / best(way)).toFixed(2));
  const figures = {
    clientUpload: {
      mbPerS: Number(mbps("engine client → sshd upload").toFixed(1)),
      opensshMbPerS: Number(best("put").toFixed(1)),
      ratio: ratio("engine client → sshd upload", "put"),
      target: 0.5,
    },
    clientDownload: {
      mbPerS: Number(mbps("engine client → sshd download").toFixed(1)),
      opensshMbPerS: Number(best("get").toFixed(1)),
      ratio: ratio("engine client → sshd download", "get"),
      target: 0.5,
    },
    serverUpload: {
      mbPerS: Number(mbps("openssh → engine server put").toFixed(1)),
      opensshMbPerS: Number(best("put").toFixed(1)),
      ratio: ratio("openssh → engine server put", "put"),
      target: 0.5,
    },
    serverDownload: {
      mbPerS: Number(mbps("openssh → engine server get").toFixed(1)),
      opensshMbPerS: Number(best("get").toFixed(1)),
      ratio: ratio("openssh → engine server get", "get"),
      target: 0.5,
    },
  };
  printLine();
  printTable(
    ["figure", "engine MB/s", "best OpenSSH MB/s", "ratio (target >= 0.5)"],
    Object.entries(figures).map(([k, f]) => [k, f.mbPerS, f.opensshMbPerS, f.ratio]),
  );

  return {
    bench: "sftp",
    bytes: SIZE,
    rounds: ROUNDS,
    ciphers,
    ...figures,
    serverUploadStoredMs: Math.round(median(stored)),
    ratio: Math.min(...Object.values(figures).map((f) => f.ratio)),
  };
}

try {
  printJson(await main());
} finally {
  for (const undo of cleanups.reverse()) await undo();
}
