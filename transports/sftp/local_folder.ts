/**
 * A local folder as an {@link SftpSession}: how a destination of kind `sftpOutbox` delivers into a
 * hosted user's `outbox/` with the very same deliverer as a remote SFTP destination (temporary
 * name, then rename). Paths are confined to the folder like a hosted user's are.
 * @module
 */

import { dirname } from "node:path";
import type { SftpEntry, SftpSession, SftpSessionSource, SftpStat } from "../../actors/ports.ts";
import { FileTooLargeError, SftpStatusError } from "../../actors/mod.ts";
import { FolderJail } from "./jail.ts";

function statOf(info: Deno.FileInfo): SftpStat {
  return {
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    isFile: info.isFile,
    isDirectory: info.isDirectory,
  };
}

/** File operations inside one folder; see the module doc. */
export class LocalFolderSession implements SftpSession {
  readonly #jail: FolderJail;
  #open = true;
  /** Where it writes, for the admin endpoint. */
  readonly local: string;

  /** A session on `folder` (an absolute real path). */
  constructor(folder: string) {
    this.#jail = new FolderJail(folder);
    this.local = folder;
  }

  /** Until {@link close}. */
  get open(): boolean {
    return this.#open;
  }

  /** Ends the session (nothing to release). */
  close(): void {
    this.#open = false;
  }

  async #real(path: string, what: string): Promise<string> {
    if (!this.#open) throw new SftpStatusError(what, "connection-lost", "session closed");
    try {
      return (await this.#jail.resolveChecked(path)).real;
    } catch (error) {
      throw new SftpStatusError(what, "permission-denied", (error as Error).message);
    }
  }

  async #fs<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof SftpStatusError || error instanceof FileTooLargeError) throw error;
      if (error instanceof Deno.errors.NotFound) throw new SftpStatusError(what, "no-such-file");
      if (error instanceof Deno.errors.PermissionDenied) {
        throw new SftpStatusError(what, "permission-denied");
      }
      throw new SftpStatusError(what, "failure", (error as Error).message);
    }
  }

  /** See {@link SftpSession.list}. */
  async list(folder: string): Promise<SftpEntry[]> {
    const what = `list ${folder}`;
    const real = await this.#real(folder, what);
    return await this.#fs(what, async () => {
      const out: SftpEntry[] = [];
      for await (const e of Deno.readDir(real)) {
        if (e.isSymlink) continue;
        out.push({ name: e.name, ...statOf(await Deno.lstat(`${real}/${e.name}`)) });
      }
      return out;
    });
  }

  /** See {@link SftpSession.stat}. */
  async stat(path: string): Promise<SftpStat | undefined> {
    try {
      const what = `stat ${path}`;
      const real = await this.#real(path, what);
      return await this.#fs(what, async () => statOf(await Deno.stat(real)));
    } catch (error) {
      if (error instanceof SftpStatusError && error.kind === "no-such-file") return undefined;
      throw error;
    }
  }

  /** See {@link SftpSession.read}. */
  async read(path: string, options: { maxBytes: number }): Promise<Uint8Array> {
    const what = `read ${path}`;
    const real = await this.#real(path, what);
    return await this.#fs(what, async () => {
      const size = (await Deno.stat(real)).size;
      if (size > options.maxBytes) throw new FileTooLargeError(path, size, options.maxBytes);
      return await Deno.readFile(real);
    });
  }

  /** See {@link SftpSession.write}: written and flushed to disk before it resolves. */
  async write(path: string, bytes: Uint8Array): Promise<void> {
    const what = `write ${path}`;
    const real = await this.#real(path, what);
    return await this.#fs(what, async () => {
      using file = await Deno.open(real, {
        write: true,
        create: true,
        truncate: true,
        mode: 0o640,
      });
      let n = 0;
      while (n < bytes.length) n += await file.write(bytes.subarray(n));
      await file.sync();
    });
  }

  /** See {@link SftpSession.rename}: refuses to replace an existing `to`. */
  async rename(from: string, to: string): Promise<void> {
    const what = `rename ${from} to ${to}`;
    const a = await this.#real(from, what);
    const b = await this.#real(to, what);
    return await this.#fs(what, async () => {
      const taken = await Deno.lstat(b).then(() => true, () => false);
      if (taken) throw new SftpStatusError(what, "failure", `${to} already exists`);
      await Deno.rename(a, b);
    });
  }

  /** See {@link SftpSession.remove}. */
  async remove(path: string): Promise<void> {
    const what = `remove ${path}`;
    const real = await this.#real(path, what);
    return await this.#fs(what, () => Deno.remove(real));
  }

  /** See {@link SftpSession.mkdir}. */
  async mkdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const what = `mkdir ${path}`;
    const real = await this.#real(path, what);
    return await this.#fs(what, async () => {
      if (!options.recursive) await Deno.stat(dirname(real));
      await Deno.mkdir(real, { recursive: true, mode: 0o750 });
    });
  }
}

/** Sessions on one local folder, made when first opened. */
export class LocalFolderSessions implements SftpSessionSource {
  readonly #folder: string;
  readonly #describe: Record<string, unknown>;

  /** Sessions on `folder`; `describe` is shown by the admin endpoint. */
  constructor(options: { folder: string; describe?: Record<string, unknown> }) {
    this.#folder = options.folder;
    this.#describe = options.describe ?? {};
  }

  /** A session on the folder (made if missing). */
  async open(): Promise<SftpSession> {
    await Deno.mkdir(this.#folder, { recursive: true, mode: 0o750 });
    return new LocalFolderSession(await Deno.realPath(this.#folder));
  }

  /** The folder and what the caller added. */
  describe(): Record<string, unknown> {
    return { folder: this.#folder, ...this.#describe };
  }
}

/**
 * The sessions for a destination that delivers to hosted user `user` under `root` (config
 * `sftpServer.root`): the deliverer writes into folder `outbox` of them.
 */
export function hostedOutboxSessions(root: string, user: string): LocalFolderSessions {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(user)) {
    throw new Error(`sftpOutbox.user ${JSON.stringify(user)} is not a valid hosted user name`);
  }
  return new LocalFolderSessions({
    folder: `${root.replace(/\/+$/, "")}/${user}`,
    describe: { hostedUser: user },
  });
}
