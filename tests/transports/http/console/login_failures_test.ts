/**
 * Console sign-in: only failures count, per address and user name together, and the token has its
 * own budget, so that one client behind the operators' address cannot lock every operator out;
 * a secret typed into the user-name field never reaches the log. Over real HTTP on the composed
 * engine (the fixture's viewer `vera`, `loginAttemptsPerIp` 10 by default).
 * @module
 */

import assert from "node:assert/strict";
import { TOKEN_ATTEMPTS_FACTOR } from "../../../../transports/http/console/login.tsx";
import { startConsoleEngine, TOKEN, VIEWER_PASSWORD } from "./fixture.ts";

const ATTEMPTS = 10;

/** One sign-in attempt through the form (its CSRF cookie and field): the status and Retry-After. */
async function attempt(
  base: string,
  fields: Record<string, string>,
): Promise<{ status: number; retryAfter: string | null }> {
  const form = await fetch(`${base}/console/login`);
  const loginCookie = form.headers.get("set-cookie")!.split(";")[0]!;
  const token = /name="_login" value="([^"]+)"/.exec(await form.text())![1]!;
  const r = await fetch(`${base}/console/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: loginCookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _login: token, ...fields }),
  });
  await r.body?.cancel();
  return { status: r.status, retryAfter: r.headers.get("retry-after") };
}

async function withConsole(
  fn: (e: Awaited<ReturnType<typeof startConsoleEngine>>) => Promise<void>,
): Promise<void> {
  const e = await startConsoleEngine();
  try {
    await fn(e);
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
}

Deno.test("console: successful sign-ins do not count against the sign-in limit", async () => {
  await withConsole(async (e) => {
    for (let i = 0; i < ATTEMPTS + 3; i++) {
      const r = await attempt(e.base, { name: "vera", password: VIEWER_PASSWORD });
      assert.equal(r.status, 303, `sign-in ${i + 1}`);
    }
  });
});

Deno.test("console: 10 failures for one user name hold back that name only; other names and the token still sign in", async () => {
  await withConsole(async (e) => {
    for (let i = 0; i < ATTEMPTS; i++) {
      assert.equal((await attempt(e.base, { name: "vera", password: `guess-${i}` })).status, 401);
    }
    const limited = await attempt(e.base, { name: "vera", password: VIEWER_PASSWORD });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.retryAfter) >= 1, `Retry-After ${limited.retryAfter}`);
    // Another name from the same address is not held back…
    assert.equal((await attempt(e.base, { name: "otto", password: "guess" })).status, 401);
    // …nor the admin token.
    assert.equal((await attempt(e.base, { token: TOKEN })).status, 303);
  });
});

Deno.test("console: the token sign-in has its own budget, 5 times the user names'", async () => {
  await withConsole(async (e) => {
    const budget = ATTEMPTS * TOKEN_ATTEMPTS_FACTOR;
    for (let i = 0; i < budget; i++) {
      assert.equal((await attempt(e.base, { token: `wrong-${i}` })).status, 401, `token ${i}`);
    }
    const limited = await attempt(e.base, { token: TOKEN });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.retryAfter) >= 1);
    // Password sign-in from the same address goes on.
    assert.equal((await attempt(e.base, { name: "vera", password: VIEWER_PASSWORD })).status, 303);
    const lines = e.log.lines.filter((l) => l.includes(" console.login-limited "));
    assert.match(
      lines[0]!,
      /WARN +console\.login-limited remote=127\.0\.0\.1 via=token refused=1$/,
    );
  });
});

Deno.test("console: a token typed as the user name is logged as its length, never its text; a user's name is logged", async () => {
  await withConsole(async (e) => {
    assert.equal((await attempt(e.base, { name: TOKEN, password: "x" })).status, 401);
    assert.equal((await attempt(e.base, { name: "vera", password: "wrong" })).status, 401);
    assert.equal((await attempt(e.base, { token: "wrong-token-value-1234" })).status, 401);
    const failed = e.log.lines.filter((l) => l.includes(" console.login-failed "));
    assert.equal(failed.length, 3, failed.join("\n"));
    assert.match(
      failed[0]!,
      new RegExp(
        `WARN +console\\.login-failed remote=127\\.0\\.0\\.1 via=password name="\\(not a user name, ${TOKEN.length} characters\\)"`,
      ),
    );
    assert.match(failed[1]!, /console\.login-failed remote=127\.0\.0\.1 via=password name=vera /);
    assert.match(failed[2]!, /console\.login-failed remote=127\.0\.0\.1 via=token refused=1$/);
    for (const line of e.log.lines) {
      assert.ok(!line.includes(TOKEN), `the admin token in the log: ${line}`);
      assert.ok(!line.includes("wrong-token-value-1234"), `a token in the log: ${line}`);
    }
  });
});
