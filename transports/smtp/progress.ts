/**
 * Where an SMTP session stood, for the reason of an attempt given up at its deadline: the last
 * command the client sent (its verb only: never an argument, so never a credential or an address),
 * whether the server's reply to it had come whole, and how many bytes the server had sent since.
 * It listens to nodemailer's transaction log (client commands, complete server replies) and reads
 * the socket's byte count, so a server that trickles a reply byte by byte is described as such.
 * @module
 */

/** The part of a socket the tracker reads. */
export interface ByteCounter {
  /** Bytes received on the connection so far. */
  readonly bytesRead: number;
  /** True while the TCP connection is still being opened. */
  readonly connecting: boolean;
}

/** nodemailer's bunyan-style logger: `(fields, message, ...args)` at each level. */
export type NodemailerLogger = Record<
  "trace" | "debug" | "info" | "warn" | "error" | "fatal",
  (fields: { tnx?: string }, message?: unknown, ...args: unknown[]) => void
>;

/** The commands named in reasons; other lines the client sends (AUTH's answers) are not. */
const COMMAND = /^(EHLO|HELO|LHLO|STARTTLS|AUTH|MAIL FROM|RCPT TO|DATA|RSET|QUIT)\b/i;

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
const bytes = (n: number) => `${n} byte${n === 1 ? "" : "s"}`;

/** Tracks one session; see the module doc. */
export class SmtpProgress {
  readonly #socket: ByteCounter;
  readonly #now: () => number;
  readonly #startedAt: number;
  #command: string | undefined;
  #commandAt = 0;
  #bytesAtCommand = 0;
  #replied = false;
  #repliedAt = 0;
  #bytesAtReply = 0;

  /** Tracks the session on `socket`, which opens now. */
  constructor(socket: ByteCounter, now: () => number = Date.now) {
    this.#socket = socket;
    this.#now = now;
    this.#startedAt = now();
  }

  /** The logger to hand nodemailer (with `debug: true`): it records commands and replies only. */
  get logger(): NodemailerLogger {
    const ignore = () => {};
    return {
      trace: ignore,
      info: ignore,
      warn: ignore,
      error: ignore,
      fatal: ignore,
      debug: (fields, message) => {
        if (fields?.tnx === "client") this.#sent(String(message ?? ""));
        else if (fields?.tnx === "server") this.#reply();
      },
    };
  }

  #sent(line: string): void {
    // The message ends with a lone dot; its reply is the server's acceptance.
    const verb = line === "." ? "the message" : COMMAND.exec(line)?.[1]?.toUpperCase();
    if (verb === undefined) return;
    this.#command = verb;
    this.#commandAt = this.#now();
    this.#bytesAtCommand = this.#read();
    this.#replied = false;
  }

  #reply(): void {
    this.#replied = true;
    this.#repliedAt = this.#now();
    this.#bytesAtReply = this.#read();
  }

  #read(): number {
    const n = this.#socket.bytesRead;
    return typeof n === "number" && Number.isFinite(n) ? n : 0;
  }

  /** Where the session stands, in words: "after EHLO it sent 4 bytes in 29.9 s, …". */
  describe(): string {
    const now = this.#now();
    if (this.#socket.connecting) {
      return `the TCP connection was not established in ${seconds(now - this.#startedAt)}`;
    }
    if (this.#command === undefined) {
      const got = this.#read();
      return this.#replied
        ? `it greeted ${seconds(now - this.#repliedAt)} before, and no command followed`
        : `it sent ${bytes(got)} of its greeting in ${
          seconds(now - this.#startedAt)
        }, not a complete one`;
    }
    if (!this.#replied) {
      return `after ${this.#command} it sent ${bytes(this.#read() - this.#bytesAtCommand)} in ${
        seconds(now - this.#commandAt)
      }, not a complete reply`;
    }
    return `its last complete reply, to ${this.#command}, came ${
      seconds(now - this.#repliedAt)
    } before; ${bytes(this.#read() - this.#bytesAtReply)} since`;
  }
}
