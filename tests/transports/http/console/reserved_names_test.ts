/**
 * `/console/users` refuses the names that already stand for someone who is not a user — `admin`
 * (the admin token, in the audit log) and `SIGHUP` (a reload by signal), in any case — with a 400
 * naming the rule, and creates nothing; other names are still created.
 * @module
 */

import assert from "node:assert/strict";
import { signIn, startConsoleEngine, TOKEN } from "./fixture.ts";

const PASSWORD = "a-password-of-16";

Deno.test("console users: admin and SIGHUP, in any case, are refused with a 400 naming the rule; nothing is created", async () => {
  const e = await startConsoleEngine();
  try {
    const admin = await signIn(e.base, { token: TOKEN });
    const create = async (name: string) => {
      const res = await fetch(`${e.base}/console/users`, {
        method: "POST",
        redirect: "manual",
        headers: {
          cookie: admin.cookie,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({
          _csrf: admin.csrf,
          name,
          role: "operator",
          password: PASSWORD,
        }),
      });
      return { status: res.status, text: await res.text() };
    };
    for (const name of ["admin", "Admin", "ADMIN", "sighup", "SIGHUP"]) {
      const got = await create(name);
      assert.equal(got.status, 400, `${name}: ${got.text.slice(0, 300)}`);
      assert.match(
        got.text,
        /Name: admin and SIGHUP are reserved, in any case \(admin is the admin token in the audit log, SIGHUP a reload by signal\)/,
        name,
      );
    }
    assert.deepEqual((await e.engine.store.console.listUsers()).map((u) => u.name), []);

    // The check is on the whole name: one that only contains a reserved word is created.
    const ok = await create("admin2");
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
    assert.match(ok.text, /Added admin2 \(operator\)\./);
    assert.deepEqual((await e.engine.store.console.listUsers()).map((u) => u.name), ["admin2"]);

    // Only admin2's creation is audited, by the admin token.
    const audit = await fetch(`${e.base}/admin/audit`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const entries = (await audit.json()).entries as { action: string; by: string }[];
    assert.deepEqual(
      entries.filter((x) => x.action === "user.create").map((x) => x.by),
      ["admin"],
    );
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});
