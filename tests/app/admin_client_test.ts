/**
 * What the `status` and `actor` commands print of a peer's bytes: control characters and bidi
 * overrides escaped, so a last error cannot move the cursor, recolour or retitle a terminal.
 */

import assert from "node:assert/strict";
import { reachFailure, terminalSafe } from "../../app/admin_client.ts";

Deno.test("terminalSafe escapes C0, DEL, C1 and bidi overrides and keeps other text", () => {
  const peer = "AE: \x1b]0;owned\x07\x1b[2J\r\nline2\x7f\x9b31m\u202egnp.exe Müller → ok\t!";
  const shown = terminalSafe(peer);
  assert.equal(
    shown,
    "AE: \\x1b]0;owned\\x07\\x1b[2J\\x0d\\x0aline2\\x7f\\x9b31m\\u{202e}gnp.exe Müller → ok\\x09!",
  );
  // deno-lint-ignore no-control-regex
  assert.ok(!/[\x00-\x1f\x7f-\x9f\u202e]/.test(shown));
});

Deno.test("reachFailure names a refused connection and a TLS mismatch from fetch's causes", () => {
  const refused = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (http://127.0.0.1:1/): client error (Connect): " +
        "tcp connect error: Connection refused (os error 111)",
    ),
  });
  assert.equal(
    reachFailure("http://127.0.0.1:1", refused),
    "cannot reach the engine at http://127.0.0.1:1: connection refused " +
      "(is the engine running, with HTTP on this port?)",
  );
  const tls = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (https://127.0.0.1:2/): client error (Connect): " +
        "received corrupt message of type InvalidContentType",
    ),
  });
  assert.match(reachFailure("https://127.0.0.1:2", tls), /: TLS error .*InvalidContentType$/);
});
