/**
 * The start-up open-file check counts the hosted SFTP server by its total cap on connections
 * (`limits.maxSftpConnections`, 200 by default) and its open files, whoever connects: not by
 * `sftpServer.maxConnectionsPerIp` per user, which does not bound connections from many
 * addresses. Nothing is counted for it when `sftpServer` is not configured.
 */

import assert from "node:assert/strict";
import { FD_MARGIN, type FdLimitConfig, fdLimitWarning, fdNeeds } from "../../app/fd_limit.ts";
import { MAX_HTTP_CONNECTIONS } from "../../transports/http/connection_limits.ts";
import { MAX_OPEN_HANDLES } from "../../transports/sftp/handle_limits.ts";

const limitsText = (soft: number) =>
  "Limit                     Soft Limit           Hard Limit           Units     \n" +
  `Max open files            ${String(soft).padEnd(20)} 524288               files     \n`;

/** One MLLP port; the hosted server with 3 users at 10 connections per address. */
const base: FdLimitConfig = {
  integrations: [{ mllp: { port: 2575 } }],
  limits: { maxConnectionsPerListener: 1000 },
  destinations: [],
  sftpServer: { maxConnectionsPerIp: 10, users: [{}, {}, {}] },
};

Deno.test("fd limit: the hosted SFTP server counts limits.maxSftpConnections (200 by default) and its open files", () => {
  assert.equal(fdNeeds(base, 100_000).sftp, 200 + MAX_OPEN_HANDLES);
  const capped = { ...base, limits: { ...base.limits, maxSftpConnections: 5000 } };
  assert.equal(fdNeeds(capped, 100_000).sftp, 5000 + MAX_OPEN_HANDLES);
  const w = fdLimitWarning(capped, limitsText(4000));
  assert.ok(w);
  assert.equal(w.sftp, 5000 + MAX_OPEN_HANDLES);
  assert.equal(w.needed, 1000 + MAX_HTTP_CONNECTIONS + 5000 + MAX_OPEN_HANDLES + FD_MARGIN);
  // Enough for all of it: no warning.
  assert.equal(fdLimitWarning(capped, limitsText(w.needed)), undefined);
  // Without the hosted server, its cap counts for nothing.
  const { sftpServer: _, ...noSftp } = capped;
  assert.equal(fdNeeds(noSftp, 100_000).sftp, 0);
});
