/**
 * `PUT /admin/alerts` can silence every alert: only the admin role may, and every replacement is
 * audited and logged (who, how many rules before and after), over real HTTP on the composed
 * engine with users.
 * @module
 */

import assert from "node:assert/strict";
import { assertNoSecrets, withUsersEngine } from "./admin_users_fixture.ts";
import { ADA, OTTO, VIC } from "./admin_users_fixture.ts";

Deno.test("alerts: an operator's PUT /admin/alerts is refused 403 and changes nothing", async () => {
  await withUsersEngine(async (e) => {
    const put = await e.call("/admin/alerts", { method: "PUT", token: OTTO, body: { rules: [] } });
    assert.equal(put.status, 403);
    assert.deepEqual(put.json, { error: "forbidden: otto is operator; this needs admin" });
    const view = await e.call("/admin/alerts", { token: OTTO });
    assert.equal(view.status, 200);
    assert.equal(view.json.source, "config");
    assert.deepEqual(view.json.rules.map((r: { id: string }) => r.id), ["failures"]);
    assert.equal((await e.call("/admin/audit")).json.entries.length, 0);
    assert.equal(e.lines.filter((l) => l.includes("alerts.rules-replaced")).length, 0);
    assert.ok(e.lines.some((l) => /WARN +admin\.forbidden user=otto role=operator/.test(l)));
  });
});

Deno.test("a viewer refused a change is told a viewer may only read, not sent to the operator role", async () => {
  await withUsersEngine(async (e) => {
    // An admin-only route: "needs operator" would be wrong (an operator is refused too).
    const put = await e.call("/admin/alerts", { method: "PUT", token: VIC, body: { rules: [] } });
    assert.equal(put.status, 403);
    assert.deepEqual(put.json, {
      error: "forbidden: vic is viewer, who may only read; PUT needs an operator or an admin",
    });
    assert.equal((await e.call("/admin/alerts", { token: VIC })).status, 200);
  });
});

Deno.test("alerts: each PUT /admin/alerts by an admin that changes the rules leaves one audit entry and one alerts.rules-replaced line, with no secret", async () => {
  await withUsersEngine(async (e) => {
    // A refused (invalid) PUT changes nothing: neither audited nor logged as replaced.
    const bad = await e.call("/admin/alerts", {
      method: "PUT",
      token: ADA,
      body: { rules: [{ id: "x", kind: "nope" }] },
    });
    assert.equal(bad.status, 400);
    const empty = await e.call("/admin/alerts", { method: "PUT", token: ADA, body: { rules: [] } });
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.json, { ok: true, rules: [] });
    // The admin token, back to the config's rules.
    const back = await e.call("/admin/alerts", { method: "PUT", body: { rules: null } });
    assert.equal(back.status, 200);

    const entries = (await e.call("/admin/audit")).json.entries;
    assert.equal(entries.length, 2);
    const [second, first] = entries; // newest first
    assert.equal(first.action, "alerts.replace");
    assert.equal(first.by, "ada");
    assert.equal(first.role, "admin");
    assert.equal(first.via, "api");
    assert.equal(first.target, "alerts");
    assert.equal(first.ok, true);
    assert.equal(first.message, "rules 1 → 0 (admin): before [failures], after []");
    assert.equal(second.by, "admin");
    assert.equal(second.message, "rules 0 → 1 (config): before [], after [failures]");

    const lines = e.lines.filter((l) => l.includes(" alerts.rules-replaced "));
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(
      lines[0]!,
      /INFO +alerts\.rules-replaced by=ada role=admin before=1 after=0 source=admin$/,
    );
    assert.match(
      lines[1]!,
      /INFO +alerts\.rules-replaced by=admin role=admin before=0 after=1 source=config$/,
    );
    assertNoSecrets(e.lines);
  });
});
