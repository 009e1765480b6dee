/**
 * SFTP in the engine: polling remote folders (one {@link SftpPollActor} per integration),
 * taking files in durably ({@link FileInbox}: HL7 batches split, other files whole, re-downloads
 * recognised), delivering files ({@link SftpDeliverer}: temporary name then rename), and key
 * rotation. No sockets here: `transports/sftp/` implements {@link SftpConnector}.
 * @module
 */

export {
  FileTooLargeError,
  HostKeyMismatchError,
  SftpAuthError,
  type SftpConnectOptions,
  type SftpConnector,
  type SftpEntry,
  type SftpSession,
  type SftpSessionSource,
  type SftpStat,
  SftpStatusError,
  type SftpStatusKind,
} from "./connector.ts";
export {
  RemoteSftpEndpoint,
  type RemoteSftpEndpointOptions,
  type SftpEndpointConfig,
} from "./endpoint.ts";
export {
  FileInbox,
  type FileInboxOptions,
  type FileInboxResult,
  type FileIntegration,
  fileQueueId,
  type ReceivedFile,
  sha256Hex,
} from "./file_inbox.ts";
export {
  checkTemplate,
  extensionFor,
  globMatcher,
  guessContentType,
  isTemporaryName,
  renderFileName,
  temporaryNameFor,
} from "../../codecs/files/mod.ts";
export {
  type KeyInUse,
  KeyRing,
  NoUsableKeyError,
  type SkippedKey,
  type SshKeyConfig,
  type UsableKey,
  usableKeys,
} from "./keys.ts";
export {
  type FileSink,
  pollActorId,
  type PollSummary,
  SftpPollActor,
  type SftpPollActorOptions,
  type SftpPollSettings,
} from "./poll_actor.ts";
export { SftpDeliverer, type SftpDelivererOptions } from "./sftp_deliverer.ts";
export { writeAcknowledgment } from "./ack_writer.ts";
