/**
 * An ssh2 SFTP client for tests of the hosted folder that need what OpenSSH's `sftp` cannot do
 * from a batch: several sessions and connections at once, requests sent in a chosen order, raw
 * offsets, and the server's status messages as sent.
 * @module
 */

import { Buffer } from "node:buffer";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { KeyPair } from "../../helpers/sshd.ts";
import type { Hosted } from "./server_fixture.ts";

const { OPEN_MODE } = ssh2.utils.sftp;

/** Flags of an upload as OpenSSH's `put` opens it. */
export const PUT = OPEN_MODE.WRITE | OPEN_MODE.CREAT | OPEN_MODE.TRUNC;

/** An SFTP request's failure: the status code and the server's message. */
export interface SftpFailure {
  code: number;
  message: string;
}

/** One logged-in connection. */
export interface HostedClient {
  client: ssh2.Client;
  /** The first SFTP session. */
  sftp: ssh2.SFTPWrapper;
  /** Opens another SFTP session on the same connection. */
  session(): Promise<ssh2.SFTPWrapper>;
  /** Resolves when the server closed the connection (or it was ended). */
  closed: Promise<void>;
  end(): Promise<void>;
}

/** Logs in to `h` as `user` (alice by default) with `key`. */
export async function connectHosted(
  h: Hosted,
  options: { user?: string; key?: KeyPair } = {},
): Promise<HostedClient> {
  const client = new ssh2.Client();
  const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("error", reject);
    client.connect({
      host: "127.0.0.1",
      port: h.server.port,
      username: options.user ?? "alice",
      privateKey: (options.key ?? h.alice).privateKey,
      readyTimeout: 10_000,
    });
  });
  client.on("error", () => {}); // a connection the server drops ends through `closed`
  const session = () =>
    new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
      client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)))
    );
  return {
    client,
    sftp: await session(),
    session,
    closed,
    async end() {
      client.end();
      await closed;
    },
  };
}

function call<T>(
  run: (cb: (error: Error | null | undefined, value?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) =>
    run((error, value) => (error ? reject(error) : resolve(value as T)))
  );
}

/** OPEN; `flags` default to an upload's. */
export function open(sftp: ssh2.SFTPWrapper, path: string, flags = PUT): Promise<Buffer> {
  return call((cb) => sftp.open(path, flags, cb));
}

/** One WRITE of `data` at `position`. */
export function write(
  sftp: ssh2.SFTPWrapper,
  handle: Buffer,
  data: string | Uint8Array,
  position = 0,
): Promise<void> {
  const buf = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
  return call((cb) => sftp.write(handle, buf, 0, buf.length, position, cb));
}

/** CLOSE. */
export function close(sftp: ssh2.SFTPWrapper, handle: Buffer): Promise<void> {
  return call((cb) => sftp.close(handle, cb));
}

/** STAT. */
export function stat(sftp: ssh2.SFTPWrapper, path: string): Promise<ssh2.Stats> {
  return call((cb) => sftp.stat(path, cb));
}

/** OPENDIR. */
export function opendir(sftp: ssh2.SFTPWrapper, path: string): Promise<Buffer> {
  return call((cb) => sftp.opendir(path, cb));
}

/** One READDIR: its entries, or undefined at the end. */
export function readdir(
  sftp: ssh2.SFTPWrapper,
  handle: Buffer,
): Promise<ssh2.FileEntryWithStats[] | undefined> {
  return new Promise((resolve, reject) =>
    sftp.readdir(handle, (error, list) => {
      if ((error as { code?: number } | undefined)?.code === 1) return resolve(undefined);
      if (error) return reject(error);
      resolve(list);
    })
  );
}

/** Uploads `data` to `path` in one session: OPEN, WRITE, CLOSE. */
export async function put(sftp: ssh2.SFTPWrapper, path: string, data: string): Promise<void> {
  const handle = await open(sftp, path);
  await write(sftp, handle, data);
  await close(sftp, handle);
}

/** How `promise` failed (rejects if it did not). */
export async function failure(promise: Promise<unknown>): Promise<SftpFailure> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: number; message?: string };
    return { code: e.code ?? -1, message: e.message ?? String(error) };
  }
  throw new Error("expected the request to fail, it succeeded");
}

/** An HL7 message with MSH-10 `id`. */
export function hl7(id: string): string {
  return `MSH|^~\\&|LAB|HOSP|ENGINE|CLINIC|20240315123000||ORU^R01|${id}|P|2.5.1\rPID|1||${id}\r`;
}
