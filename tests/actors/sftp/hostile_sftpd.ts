/**
 * A scriptable SFTP server for poller tests (npm ssh2's server, on a free loopback port): a
 * counterparty's server that misbehaves the way real ones do, which OpenSSH run as root cannot
 * (a file listed but not readable, a read-only share, a folder too large to list in one go, a
 * listing that comes slowly). Its files live in memory under `in/` and tests change them between
 * polls; every request is recorded in {@link HostileSftpd.requests}.
 * @module
 */

import { Buffer } from "node:buffer";
import type { AddressInfo } from "node:net";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { Sshd } from "../../helpers/sshd.ts";
import { currentUser, testKey } from "../../helpers/sshd.ts";

const { STATUS_CODE } = ssh2.utils.sftp;

/** One file of the server. */
export interface HostileFile {
  data: Uint8Array;
  /** Modification time, whole seconds since the epoch. */
  mtime: number;
}

/** How the server misbehaves; every field may be changed between polls. */
export interface HostileBehaviour {
  /** OPEN of these paths is answered PERMISSION_DENIED (e.g. `in/old.hl7`). */
  denyOpen: Set<string>;
  /** OPEN of these paths is answered NO_SUCH_FILE although they are listed (gone meanwhile). */
  vanishOnOpen: Set<string>;
  /** OPEN of these paths drops the connection (a session-level failure). */
  dropOnOpen: Set<string>;
  /** A RENAME for which this says true is answered PERMISSION_DENIED (with `readOnlyText`). */
  denyRename: (from: string, to: string) => boolean;
  /** REMOVE is answered PERMISSION_DENIED. */
  denyRemove: boolean;
  /** Names per READDIR answer. */
  namesPerAnswer: number;
  /**
   * Extra names listed in `in/` after the real files (never readable: OPEN says NO_SUCH_FILE),
   * e.g. a huge folder of other files.
   */
  extraNames: number;
  /** The length of each extra name (padded with `y`; its own short name when unset). */
  extraNameLength?: number;
  /** READ of these paths past their end keeps answering data (a file that never stops growing). */
  endless: Set<string>;
  /**
   * Paths in a subfolder listed in their folder's listing as if they were its files, with the `/`
   * in their name (`in/sub/x.hl7` listed in `in` as `sub/x.hl7`): a broken server's names.
   */
  listedDeep: Set<string>;
  /** Awaited before each READDIR is answered (its 1-based number on its handle): to hold it back. */
  beforeReaddir?: (n: number) => Promise<void>;
}

/** A running server, seen as an {@link Sshd} by `startPoll` (port, user, host key). */
export interface HostileSftpd {
  /** What `startPoll` needs to connect (only port, user and hostKey are real). */
  sshd: Sshd;
  /** Files by path (`in/x.hl7`, `in/archive/x.hl7`). */
  files: Map<string, HostileFile>;
  behaviour: HostileBehaviour;
  /** Every request, e.g. `OPEN in/old.hl7`, `READDIR in`, `RENAME in/a.hl7 in/archive/a.hl7`. */
  requests: string[];
  /** Requests whose text starts with `prefix`. */
  count(prefix: string): number;
  stop(): Promise<void>;
}

/** The text of a refused RENAME or REMOVE. */
export const readOnlyText = "read-only share";

const enc = new TextEncoder();

/** An HL7 message with MSH-10 `id`, as a file's content. */
export function hl7File(id: string, mtime: number): HostileFile {
  return {
    data: enc.encode(`MSH|^~\\&|LAB|HOSP|ENG|CLIN|20240101||ADT^A01|${id}|P|2.5\rPID|1||${id}`),
    mtime,
  };
}

const norm = (p: string) => p.replace(/^\/+/, "").replace(/^\.\//, "").replace(/\/+$/, "");

/** Starts a server whose `in/` holds `files` (names under `in/`). */
export async function startHostileSftpd(
  files: Record<string, HostileFile> = {},
): Promise<HostileSftpd> {
  const hostKey = await testKey("hostile_sftpd_host", { type: "ed25519" });
  const store = new Map<string, HostileFile>();
  for (const [name, f] of Object.entries(files)) store.set(`in/${name}`, f);
  const dirs = new Set(["", "in"]);
  const requests: string[] = [];
  const behaviour: HostileBehaviour = {
    denyOpen: new Set(),
    vanishOnOpen: new Set(),
    dropOnOpen: new Set(),
    denyRename: () => false,
    denyRemove: false,
    namesPerAnswer: 100,
    extraNames: 0,
    endless: new Set(),
    listedDeep: new Set(),
  };
  const clients = new Set<ssh2.Connection>();
  const now = Math.floor(Date.now() / 1000);
  const dirAttrs = { mode: 0o040755, uid: 0, gid: 0, size: 4096, atime: now, mtime: now };
  const fileAttrs = (f: HostileFile) => ({
    mode: 0o100644,
    uid: 0,
    gid: 0,
    size: f.data.length,
    atime: f.mtime,
    mtime: f.mtime,
  });

  const server = new ssh2.Server({ hostKeys: [hostKey.privateKey] }, (client) => {
    clients.add(client);
    client.on("close", () => clients.delete(client));
    client.on("error", () => {});
    client.on("authentication", (ctx) => ctx.accept());
    client.on("ready", () => {
      client.on("session", (accept) => {
        accept().on("sftp", (acceptSftp) => {
          const sftp = acceptSftp();
          const handles = new Map<
            number,
            { dir?: string; sent?: number; asked?: number; file?: HostileFile; path?: string }
          >();
          let next = 1;
          const handle = (v: { dir?: string; file?: HostileFile; path?: string }) => {
            const b = Buffer.alloc(4);
            b.writeUInt32BE(next);
            handles.set(next++, v);
            return b;
          };
          const get = (b: Buffer) => handles.get(b.readUInt32BE(0));
          const stat = (id: number, path: string) => {
            const p = norm(path);
            if (dirs.has(p)) return sftp.attrs(id, dirAttrs);
            const f = store.get(p);
            if (!f) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
            sftp.attrs(id, fileAttrs(f));
          };
          sftp.on(
            "REALPATH",
            (id) => sftp.name(id, [{ filename: "/", longname: "/", attrs: dirAttrs }]),
          );
          sftp.on("STAT", stat);
          sftp.on("LSTAT", stat);
          sftp.on("FSTAT", (id, h) => {
            const f = get(h)?.file;
            f ? sftp.attrs(id, fileAttrs(f)) : sftp.status(id, STATUS_CODE.FAILURE);
          });
          sftp.on("OPENDIR", (id, path) => {
            const p = norm(path);
            requests.push(`OPENDIR ${p}`);
            if (!dirs.has(p)) return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
            sftp.handle(id, handle({ dir: p }));
          });
          sftp.on("READDIR", async (id, h) => {
            const x = get(h);
            if (!x?.dir) return sftp.status(id, STATUS_CODE.FAILURE);
            requests.push(`READDIR ${x.dir}`);
            x.asked = (x.asked ?? 0) + 1;
            await behaviour.beforeReaddir?.(x.asked);
            const sent = x.sent ?? 0;
            const real = [...store].filter(([p]) =>
              p.startsWith(`${x.dir}/`) &&
              (!p.slice(x.dir!.length + 1).includes("/") || behaviour.listedDeep.has(p))
            );
            const total = real.length + behaviour.extraNames;
            if (sent >= total) return sftp.status(id, STATUS_CODE.EOF);
            const batch = [];
            for (let i = sent; i < Math.min(total, sent + behaviour.namesPerAnswer); i++) {
              const other = `${x.dir}/other-${String(i).padStart(9, "0")}`;
              const [path, f] = real[i] ?? [
                `${other.padEnd(behaviour.extraNameLength ?? 0, "y")}.dat`,
                { data: new Uint8Array(10), mtime: now },
              ];
              const filename = path.slice(x.dir.length + 1);
              batch.push({
                filename,
                longname: `-rw-r--r-- 1 u u ${filename}`,
                attrs: fileAttrs(f),
              });
            }
            x.sent = sent + batch.length;
            sftp.name(id, batch);
          });
          sftp.on("OPEN", (id, path) => {
            const p = norm(path);
            requests.push(`OPEN ${p}`);
            const f = store.get(p);
            if (behaviour.dropOnOpen.has(p)) return client.end();
            if (behaviour.denyOpen.has(p)) {
              return sftp.status(id, STATUS_CODE.PERMISSION_DENIED, "permission denied");
            }
            if (!f || behaviour.vanishOnOpen.has(p)) {
              return sftp.status(id, STATUS_CODE.NO_SUCH_FILE);
            }
            sftp.handle(id, handle({ file: f, path: p }));
          });
          sftp.on("READ", (id, h, offset, length) => {
            const x = get(h);
            const f = x?.file;
            if (f && offset >= f.data.length && behaviour.endless.has(x?.path ?? "")) {
              return sftp.data(id, Buffer.alloc(length, 0x41));
            }
            if (!f || offset >= f.data.length) return sftp.status(id, STATUS_CODE.EOF);
            sftp.data(id, Buffer.from(f.data.subarray(offset, offset + length)));
          });
          sftp.on("CLOSE", (id, h) => {
            handles.delete(h.readUInt32BE(0));
            sftp.status(id, STATUS_CODE.OK);
          });
          sftp.on("RENAME", (id, from, to) => {
            const [a, b] = [norm(from), norm(to)];
            requests.push(`RENAME ${a} ${b}`);
            if (behaviour.denyRename(a, b)) {
              return sftp.status(id, STATUS_CODE.PERMISSION_DENIED, readOnlyText);
            }
            const f = store.get(a);
            if (!f || store.has(b)) return sftp.status(id, STATUS_CODE.FAILURE);
            store.delete(a);
            store.set(b, f);
            sftp.status(id, STATUS_CODE.OK);
          });
          sftp.on("REMOVE", (id, path) => {
            const p = norm(path);
            requests.push(`REMOVE ${p}`);
            if (behaviour.denyRemove) {
              return sftp.status(id, STATUS_CODE.PERMISSION_DENIED, readOnlyText);
            }
            sftp.status(id, store.delete(p) ? STATUS_CODE.OK : STATUS_CODE.NO_SUCH_FILE);
          });
          sftp.on("MKDIR", (id, path) => {
            const p = norm(path);
            requests.push(`MKDIR ${p}`);
            dirs.add(p);
            sftp.status(id, STATUS_CODE.OK);
          });
          sftp.on("SETSTAT", (id) => sftp.status(id, STATUS_CODE.OK));
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    sshd: { port, user: currentUser(), hostKey } as Sshd,
    files: store,
    behaviour,
    requests,
    count: (prefix) => requests.filter((r) => r.startsWith(prefix)).length,
    async stop() {
      for (const c of clients) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Runs `fn` against a {@link startHostileSftpd} server holding `files`, stopped afterwards. */
export async function withHostileSftpd(
  files: Parameters<typeof startHostileSftpd>[0],
  fn: (server: HostileSftpd) => Promise<void>,
): Promise<void> {
  const server = await startHostileSftpd(files);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}
