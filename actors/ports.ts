/**
 * The interface MLLP listeners hand received frames to. Transports implement framing and sockets;
 * everything about what to answer lives behind this interface.
 * @module
 */

/** A frame received on a connection. */
export interface ReceivedFrame {
  payload: Uint8Array;
  localPort: number;
  peerIp: string;
  /** Identifies the connection in logs. */
  connection: string;
}

/** What to send back for a frame. */
export interface InboxReply {
  /**
   * The ACK/NAK to write (an HL7 message; the transport frames it). None when the sender's
   * MSH-15 asked for no accept acknowledgment of this outcome (enhanced mode).
   */
  reply?: Uint8Array;
  /** Close the connection after writing the reply. */
  close?: boolean;
  /**
   * An application acknowledgment to write on the same connection once the application step has
   * handled the message (enhanced mode, MSH-16); undefined when none is to be sent.
   */
  later?: Promise<Uint8Array | undefined>;
}

/** Receives MLLP traffic for the engine. */
export interface MllpInbox {
  /** Handles one frame; never rejects (failures become negative ACKs). */
  receive(frame: ReceivedFrame): Promise<InboxReply>;
  /** The answer to a frame over the size limit (the connection is closed after it). */
  oversize(info: { localPort: number; peerIp: string; size: number; limit: number }): Uint8Array;
  /** How long a connection from this peer may stay silent before it is closed. */
  idleTimeoutMs(localPort: number, peerIp: string): number;
  /** Largest frame accepted. */
  readonly maxFrameBytes: number;
}
