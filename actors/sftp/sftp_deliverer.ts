/**
 * Delivering one message as a file over SFTP: write it under a temporary name (`.<name>.part`),
 * then rename it to its final name, so the receiver never sees half a file under the final
 * name. The name comes from the destination's template and is stable across retries, so a
 * rename that succeeded but whose answer was lost is recognised on the next attempt. The session
 * stays open between messages and is closed after an idle period; any failure drops it and
 * returns a reason, and the delivery actor retries on its schedule.
 * @module
 */

import { HeldLink } from "../delivery/held_link.ts";
import type { Deliverer, DeliveryJob, DeliveryOutcome } from "../delivery/deliverer.ts";
import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import type { MessageRecord } from "../store/types.ts";
import type { SftpSession, SftpSessionSource } from "./connector.ts";
import { errorMessage } from "../runtime/errors.ts";
import {
  baseName,
  checkTemplate,
  extensionFor,
  joinPath,
  renderFileName,
  temporaryNameFor,
} from "../../codecs/files/mod.ts";

/** What an {@link SftpDeliverer} is made of. */
export interface SftpDelivererOptions {
  actorId: string;
  /** Where sessions come from: a remote server, or a hosted user's outbox. */
  sessions: SftpSessionSource;
  /** The folder files are written into (relative to the login folder, or absolute). */
  folder: string;
  /** File name template, e.g. `{ts}-{id}.{ext}`; checked at construction. */
  fileName: string;
  clock: Clock;
  log: Logger;
  /** Close the session after this long without a delivery, default 5 min. */
  idleCloseMs?: number;
}

/** See the module doc. */
export class SftpDeliverer implements Deliverer {
  readonly #options: SftpDelivererOptions;
  readonly #link: HeldLink<SftpSession>;
  #lastFile: string | undefined;

  /** A deliverer; throws when the file name template is unusable. */
  constructor(options: SftpDelivererOptions) {
    checkTemplate(options.fileName);
    this.#options = options;
    this.#link = new HeldLink({
      actorId: options.actorId,
      idleCloseMs: options.idleCloseMs ?? 5 * 60_000,
      idleEvent: "sftp.idle-close",
      log: options.log,
    });
  }

  /** The final file name of a message (also used by tests and the admin endpoint). */
  fileNameFor(record: MessageRecord): string {
    return renderFileName(this.#options.fileName, {
      id: record.id,
      receivedAt: record.receivedAt,
      ext: extensionFor(record.contentType, record.fileName),
      name: record.fileName ? baseName(record.fileName) : record.id,
    });
  }

  /** True while a session is open. */
  holdsConnection(): boolean {
    return this.#link.current !== undefined;
  }

  /** Where it delivers, with which key, and the last file written. */
  detail(): Record<string, unknown> {
    return {
      ...this.#options.sessions.describe(),
      folder: this.#options.folder,
      fileName: this.#options.fileName,
      ...this.#link.detail(),
      ...(this.#lastFile ? { lastFile: this.#lastFile } : {}),
    };
  }

  /** Closes a session that has carried nothing for the idle period. */
  idle(now: number): Promise<void> {
    this.#link.idle(now);
    return Promise.resolve();
  }

  /** Closes the session. */
  close(): Promise<void> {
    this.#link.drop();
    return Promise.resolve();
  }

  /** One attempt: connect if needed, write the temporary file, rename it. */
  async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
    const { clock, log, actorId } = this.#options;
    const name = this.fileNameFor(job.record);
    const final = this.#path(name);
    const temporary = this.#path(temporaryNameFor(name));
    let session = this.#link.current;
    if (!session) {
      job.setState("connecting");
      try {
        session = await this.#options.sessions.open(job.signal);
      } catch (error) {
        return { ok: false, reason: `connect failed: ${errorMessage(error)}` };
      }
      this.#link.hold(session, clock.now());
      log.info("sftp.connected", { actor: actorId, local: session.local });
    }
    this.#link.touch(clock.now());
    job.setState("sending");
    // Aborting (engine stop, operator skip) ends the session, which fails the request under way.
    const onAbort = () => this.#link.drop();
    job.signal.addEventListener("abort", onAbort, { once: true });
    try {
      await session.write(temporary, job.payload, { signal: job.signal });
      try {
        await session.rename(temporary, final);
      } catch (error) {
        // A rename whose answer was lost (or a retry after one) finds the final name taken.
        const there = await session.stat(final).catch(() => undefined);
        if (there?.isFile && there.size === job.payload.length) {
          await session.remove(temporary).catch(() => {});
          return this.#done(final, job.payload.length, "already in place");
        }
        throw error;
      }
      return this.#done(final, job.payload.length);
    } catch (error) {
      const reason = job.signal.aborted ? "aborted" : errorMessage(error);
      // Leave nothing half-written behind when the session still works; the temporary name is
      // never taken for a final file anyway.
      if (session.open) await session.remove(temporary).catch(() => {});
      this.#link.drop();
      return { ok: false, reason: `writing ${final} failed: ${reason}` };
    } finally {
      job.signal.removeEventListener("abort", onAbort);
      this.#link.touch(clock.now());
    }
  }

  #done(final: string, size: number, note?: string): DeliveryOutcome {
    this.#lastFile = final;
    this.#options.log.debug("sftp.delivered", {
      actor: this.#options.actorId,
      file: final,
      size,
      note,
    });
    return { ok: true, detail: `${final} (${size} bytes)${note ? `, ${note}` : ""}` };
  }

  #path(name: string): string {
    return joinPath(this.#options.folder, name);
  }
}
