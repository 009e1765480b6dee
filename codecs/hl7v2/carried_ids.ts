/**
 * The MSH-10s one connection to an HL7 receiver carried lately, each with the message it was for.
 * A reply is matched to the message on the wire only by its MSA-2 (that message's MSH-10), and a
 * receiver may answer a message more than once (an accept ACK, then an application ACK) or late:
 * a reply to a message this connection carried may still come. Another message under the same
 * MSH-10 must therefore not go out on that connection, or such a reply would be taken as its ACK;
 * {@link CarriedControlIds.clashes} says when. Read by both the delivery actor and the socket
 * thread that sends the next message on an accept.
 * @module
 */

/** Control ids remembered per connection, and their total length in characters. */
const MAX_IDS = 1024;
const MAX_CHARS = 64 * 1024;

/**
 * See the module doc. Bounded: the oldest are forgotten beyond {@link MAX_IDS} ids or
 * {@link MAX_CHARS} characters, never the newest, so the message just before is always guarded
 * against (a destination that answers in order can still answer only that one: a second reply
 * to an older one came before the replies to the messages after it, and was skipped then), and
 * one whose replies come out of order is, for any message but one of some thousand messages
 * before (or several of very long MSH-10s).
 *
 * @example
 * ```ts
 * const carried = new CarriedControlIds();
 * carried.note("R1", "seq-1");
 * carried.clashes("R1", "seq-1"); // false: the same message again (a retry)
 * carried.clashes("R1", "seq-2"); // true: another message under the same MSH-10
 * ```
 */
export class CarriedControlIds {
  /** Control id -> key of the message it was carried for, oldest first. */
  readonly #ids = new Map<string, string>();
  #chars = 0;

  /**
   * True when the connection carried `controlId` (or was given it to send) for another message
   * than `key`: a reply to that one could not be told from a reply to this one.
   */
  clashes(controlId: string, key: string): boolean {
    const carried = this.#ids.get(controlId);
    return carried !== undefined && carried !== key;
  }

  /** Notes that the connection carries (or may send on its own) `controlId` for message `key`. */
  note(controlId: string, key: string): void {
    const had = this.#ids.get(controlId);
    if (had !== undefined) this.#ids.delete(controlId);
    else this.#chars += controlId.length;
    this.#ids.set(controlId, key);
    while (this.#ids.size > 1 && (this.#ids.size > MAX_IDS || this.#chars > MAX_CHARS)) {
      const oldest = this.#ids.keys().next().value!;
      this.#ids.delete(oldest);
      this.#chars -= oldest.length;
    }
  }
}
