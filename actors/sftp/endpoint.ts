/**
 * A remote SFTP server as the actors use it: open a session with the newest valid key (falling
 * back to older valid ones when the server refuses it), log a changed host key or a rotation,
 * and describe the endpoint and the key in use for the admin endpoint.
 * @module
 */

import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import {
  HostKeyMismatchError,
  SftpAuthError,
  type SftpConnector,
  type SftpSession,
  type SftpSessionSource,
} from "./connector.ts";
import { errorMessage } from "../runtime/errors.ts";
import { KeyRing, NoUsableKeyError, type SshKeyConfig } from "./keys.ts";

/** The endpoint fields of an SFTP integration or destination config. */
export interface SftpEndpointConfig {
  host: string;
  port: number;
  user: string;
  keys: SshKeyConfig[];
  hostKeyFingerprint: string;
}

/** What a {@link RemoteSftpEndpoint} is made of. */
export interface RemoteSftpEndpointOptions {
  /** The actor using it, for logs. */
  owner: string;
  endpoint: SftpEndpointConfig;
  connector: SftpConnector;
  clock: Clock;
  log: Logger;
  /** Handshake and login timeout, default 20 s. */
  timeoutMs?: number;
}

/** See the module doc. */
export class RemoteSftpEndpoint implements SftpSessionSource {
  readonly #options: RemoteSftpEndpointOptions;
  readonly #ring: KeyRing;
  #lastError: string | undefined;

  /** An endpoint; nothing connects until {@link open}. */
  constructor(options: RemoteSftpEndpointOptions) {
    this.#options = options;
    this.#ring = new KeyRing(options.endpoint.keys);
  }

  /** `user@host:port`. */
  get where(): string {
    const { user, host, port } = this.#options.endpoint;
    return `${user}@${host}:${port}`;
  }

  /** Logs in with the newest valid key that the server accepts; see the module doc. */
  async open(signal?: AbortSignal): Promise<SftpSession> {
    const { endpoint, connector, clock, log, owner } = this.#options;
    let candidates;
    try {
      candidates = this.#ring.candidates(clock.now());
    } catch (error) {
      if (error instanceof NoUsableKeyError) {
        log.error("sftp.no-valid-key", { actor: owner, remote: this.where, reason: error.message });
      }
      this.#lastError = errorMessage(error);
      throw error;
    }
    const refused: number[] = [];
    for (const [i, key] of candidates.entries()) {
      try {
        const session = await connector.connect({
          host: endpoint.host,
          port: endpoint.port,
          user: endpoint.user,
          privateKey: key.privateKey,
          ...(key.passphrase !== undefined ? { passphrase: key.passphrase } : {}),
          hostKeyFingerprint: endpoint.hostKeyFingerprint,
          timeoutMs: this.#options.timeoutMs ?? 20_000,
          ...(signal ? { signal } : {}),
        });
        const fallback = i > 0;
        if (this.#ring.used(key, clock.now(), fallback)) {
          log.info("sftp.key-in-use", {
            actor: owner,
            remote: this.where,
            key: key.index,
            source: key.source,
            ...(fallback ? { fallback: true, refused: refused.join(",") } : {}),
          });
        }
        this.#lastError = undefined;
        return session;
      } catch (error) {
        this.#lastError = errorMessage(error);
        if (error instanceof HostKeyMismatchError) {
          log.error("sftp.host-key-mismatch", {
            actor: owner,
            remote: this.where,
            expected: error.expected,
            actual: error.actual,
          });
          throw error;
        }
        if (!(error instanceof SftpAuthError)) throw error;
        refused.push(key.index);
        log.warn("sftp.key-refused", {
          actor: owner,
          remote: this.where,
          key: key.index,
          source: key.source,
          ...(i + 1 < candidates.length ? { next: candidates[i + 1]!.index } : {}),
        });
      }
    }
    const error = new SftpAuthError(
      `${endpoint.host}:${endpoint.port}`,
      endpoint.user,
      `every valid key was refused (keys ${refused.join(", ")})`,
    );
    this.#lastError = error.message;
    throw error;
  }

  /** Where, the pinned host key, the key in use and the state of every key. */
  describe(): Record<string, unknown> {
    const inUse = this.#ring.inUse;
    return {
      remote: this.where,
      hostKeyFingerprint: this.#options.endpoint.hostKeyFingerprint,
      ...(inUse ? { keyInUse: inUse } : {}),
      keys: this.#ring.describe(this.#options.clock.now()),
      ...(this.#lastError ? { lastConnectError: this.#lastError } : {}),
    };
  }
}
