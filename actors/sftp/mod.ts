/**
 * SFTP in the engine: polling remote folders (one {@link SftpPollActor} per integration),
 * taking files in durably ({@link FileIntake}: HL7 batches split, other files whole, re-downloads
 * recognised), delivering files ({@link SftpDeliverer}: temporary name then rename), and key
 * rotation. No sockets here: `transports/sftp/` implements {@link SftpConnector}.
 * @module
 */

export {
  errorMessage,
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
  FileIntake,
  type FileIntakeOptions,
  type FileIntegration,
  fileQueueId,
  type IntakeResult,
  type ReceivedFile,
  sha256Hex,
} from "./file_intake.ts";
export {
  checkTemplate,
  extensionFor,
  globMatcher,
  guessContentType,
  isTemporaryName,
  renderFileName,
  temporaryNameFor,
} from "./file_names.ts";
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
