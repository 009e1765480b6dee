/**
 * SFTP over ssh2: the client connector the SFTP actors use ({@link SshSftpConnector}), the hosted
 * folder server ({@link HostedSftpServer}), and local-folder sessions for deliveries into a
 * hosted user's outbox ({@link hostedOutboxSessions}).
 * @module
 */

export { MODERN_ALGORITHMS } from "./algorithms.ts";
export { SshSftpConnector, sshSftpConnector, type SshSftpConnectorOptions } from "./client.ts";
export { publicKeyLineFingerprint, sshFingerprint } from "./fingerprint.ts";
export { hostedOutboxSessions, LocalFolderSession, LocalFolderSessions } from "./local_folder.ts";
export { HostedSftpServer, type HostedSftpServerOptions, type Upload } from "./server.ts";
