/**
 * `console.login-limited` is throttled per address: a client hammering the sign-in form past its
 * limit gets every attempt refused `429`, and the log one line per interval, not one per attempt.
 * @module
 */

import assert from "node:assert/strict";
import { PEER_LOG_INTERVAL_MS } from "../../../../transports/http/peer_log.ts";
import { startConsoleEngine } from "./fixture.ts";

Deno.test("console: 200 sign-in attempts from one address past its limit write one console.login-limited line per interval", async () => {
  const e = await startConsoleEngine();
  try {
    const started = performance.now();
    let limited = 0;
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`${e.base}/console/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ name: "nobody", password: `guess-${i}` }),
      });
      await r.body?.cancel();
      if (r.status === 429) limited++;
    }
    const elapsed = performance.now() - started;
    assert.ok(limited >= 150, `${limited} attempts refused 429`);
    const lines = e.log.lines.filter((l) => l.includes(" console.login-limited "));
    const intervals = 1 + Math.floor(elapsed / PEER_LOG_INTERVAL_MS);
    assert.ok(lines.length >= 1 && lines.length <= intervals, lines.join("\n"));
    assert.match(
      lines[0]!,
      /WARN +console\.login-limited remote=127\.0\.0\.1 via=password refused=1$/,
    );
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});
