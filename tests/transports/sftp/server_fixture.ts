/**
 * A hosted SFTP server for tests, with throwaway keys, a temp root and a recording `onUpload`.
 * @module
 */

import { memoryLogger } from "../../../actors/runtime/log.ts";
import { isTemporaryName } from "../../../codecs/files/mod.ts";
import {
  HostedSftpServer,
  type HostedSftpServerOptions,
  type Upload,
} from "../../../transports/sftp/server.ts";
import { type KeyPair, sftpBatch, testKey } from "../../helpers/sshd.ts";

/** A running server and what tests need around it. */
export interface Hosted {
  server: HostedSftpServer;
  dir: string;
  root: string;
  host: KeyPair;
  /** alice's current key and her previous one (both configured: rotation). */
  alice: KeyPair;
  aliceOld: KeyPair;
  /** A key nobody configured. */
  stranger: KeyPair;
  uploads: Upload[];
  log: ReturnType<typeof memoryLogger>;
  /** Replaces what `onUpload` does (default: record and resolve). */
  setOnUpload(fn: (upload: Upload) => Promise<void>): void;
  /** `sftp -b` as alice (or with `key`). */
  sftp(
    commands: string[],
    options?: Omit<Parameters<typeof sftpBatch>[0], "port" | "user" | "key" | "commands"> & {
      key?: KeyPair;
      user?: string;
    },
  ): ReturnType<typeof sftpBatch>;
  lines(event: string): string[];
  stop(): Promise<void>;
}

/** Starts a server with users alice (feeds "lab", two keys) and bob (feeds "clinic"). */
export async function startHosted(
  overrides: Partial<HostedSftpServerOptions> = {},
): Promise<Hosted> {
  const [host, alice, aliceOld, bob, stranger] = await Promise.all([
    testKey("host", { type: "ed25519" }),
    testKey("alice"),
    testKey("alice_old"),
    testKey("bob"),
    testKey("stranger"),
  ]);
  const dir = await Deno.makeTempDir({ prefix: "sftp-hosted-" });
  const uploads: Upload[] = [];
  const log = memoryLogger();
  let onUpload = (upload: Upload) => {
    uploads.push(upload);
    return Promise.resolve();
  };
  const root = `${dir}/root`;
  const server = await HostedSftpServer.start({
    hostname: "127.0.0.1",
    port: 0,
    hostKey: host.privateKey,
    root,
    users: [
      { name: "alice", publicKeys: [aliceOld.publicKey, alice.publicKey], integration: "lab" },
      { name: "bob", publicKeys: [bob.publicKey], integration: "clinic" },
    ],
    maxConnectionsPerIp: 10,
    maxFailedLoginsPerIp: 5,
    maxFileBytes: 30 * 1024 * 1024,
    onUpload: (upload) => onUpload(upload),
    holdBack: isTemporaryName,
    log,
    rescanIntervalMs: 0,
    ...overrides,
  });
  return {
    server,
    dir,
    root: await Deno.realPath(root),
    host,
    alice,
    aliceOld,
    stranger,
    uploads,
    log,
    setOnUpload(fn) {
      onUpload = fn;
    },
    sftp(commands, options = {}) {
      const { key, user, ...rest } = options;
      return sftpBatch({
        port: server.port,
        user: user ?? "alice",
        key: (key ?? alice).privatePath,
        commands,
        cwd: dir,
        ...rest,
      });
    },
    lines(event) {
      return log.lines.filter((l) => l.includes(` ${event} `) || l.endsWith(` ${event}`));
    },
    async stop() {
      try {
        await server.stop();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}
