/**
 * Opening SFTP sessions with ssh2's Client, as the actors' {@link SftpConnector}: key login only,
 * the host key pinned by its SHA-256 fingerprint (a different key is refused with a
 * {@link HostKeyMismatchError} naming both), SHA-1-free algorithms, SSH keepalives, and a TCP
 * socket with no Nagle delay (with Nagle on, each small SFTP request/answer waits for the
 * previous segment's ACK and transfers stall at a few MB/s).
 * @module
 */

import { connect as tcpConnect, type Socket } from "node:net";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import { errorMessage, HostKeyMismatchError, SftpAuthError } from "../../actors/mod.ts";
import type { SftpConnectOptions, SftpConnector, SftpSession } from "../../actors/ports.ts";
import { MODERN_ALGORITHMS } from "./algorithms.ts";
import { SshSftpSession } from "./client_session.ts";
import { sameFingerprint, sshFingerprint } from "./fingerprint.ts";

/** Tuning of {@link SshSftpConnector}. */
export interface SshSftpConnectorOptions {
  /** SSH keepalive every this many ms while connected, default 15 s. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection is dropped, default 3. */
  keepaliveCountMax?: number;
}

/** See the module doc. */
export class SshSftpConnector implements SftpConnector {
  readonly #options: SshSftpConnectorOptions;

  /** A connector; it holds no connection itself. */
  constructor(options: SshSftpConnectorOptions = {}) {
    this.#options = options;
  }

  /** See {@link SftpConnector.connect}. */
  connect(options: SftpConnectOptions): Promise<SftpSession> {
    const where = `${options.host}:${options.port}`;
    const timeoutMs = options.timeoutMs ?? 20_000;
    if (options.signal?.aborted) return Promise.reject(new Error(`connect to ${where}: aborted`));
    return new Promise<SftpSession>((resolve, reject) => {
      const client = new ssh2.Client();
      let presented: string | undefined;
      let settled = false;
      const sock: Socket = tcpConnect({ host: options.host, port: options.port });
      sock.setNoDelay(true);
      sock.setKeepAlive(true, 30_000);
      const finish = (outcome: { session: SftpSession } | { error: Error }) => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener("abort", onAbort);
        if ("session" in outcome) return resolve(outcome.session);
        client.removeAllListeners("ready");
        client.end();
        sock.destroy();
        reject(outcome.error);
      };
      const onAbort = () => finish({ error: new Error(`connect to ${where}: aborted`) });
      options.signal?.addEventListener("abort", onAbort, { once: true });

      client.on("error", (err: Error & { level?: string }) => {
        if (settled) return;
        if (presented !== undefined && !sameFingerprint(presented, options.hostKeyFingerprint)) {
          return finish({
            error: new HostKeyMismatchError(where, options.hostKeyFingerprint, presented),
          });
        }
        if (err.level === "client-authentication") {
          return finish({ error: new SftpAuthError(where, options.user, "key not accepted") });
        }
        if (err.level === "client-timeout") {
          return finish({
            error: new Error(`${where}: no SSH login within ${timeoutMs / 1000} s`),
          });
        }
        finish({ error: new Error(`${where}: ${err.message}`) });
      });
      client.on("close", () => {
        finish({ error: new Error(`${where}: connection closed during login`) });
      });
      client.on("ready", () => {
        client.sftp((err, sftp) => {
          if (err) return finish({ error: new Error(`${where}: SFTP refused: ${err.message}`) });
          const local = sock.localAddress ? `${sock.localAddress}:${sock.localPort}` : undefined;
          finish({ session: new SshSftpSession(client, sftp, local) });
        });
      });

      try {
        client.connect({
          sock,
          username: options.user,
          privateKey: options.privateKey,
          ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
          authHandler: ["publickey"],
          readyTimeout: timeoutMs,
          keepaliveInterval: this.#options.keepaliveIntervalMs ?? 15_000,
          keepaliveCountMax: this.#options.keepaliveCountMax ?? 3,
          algorithms: MODERN_ALGORITHMS,
          hostVerifier: (key: Buffer) => {
            presented = sshFingerprint(key);
            return sameFingerprint(presented, options.hostKeyFingerprint);
          },
        });
      } catch (error) {
        // ssh2 throws synchronously on a key it cannot parse; never echo the key itself.
        finish({ error: new Error(`private key for ${where}: ${errorMessage(error)}`) });
      }
    });
  }
}

/** A ready connector with the default tuning. */
export const sshSftpConnector: SftpConnector = new SshSftpConnector();
