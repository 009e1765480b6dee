/**
 * The query strings of the paged admin lists other than `/admin/logs` (`GET /admin/audit`,
 * `GET /admin/alerts/history`) are checked the way `/admin/logs` checks its own: an unknown or
 * repeated parameter, a bad `limit` or a cursor that is no page's `next` get a 400 naming it,
 * instead of being ignored. And `GET /admin/config` gives `loadedAt` as ISO 8601, as every time in
 * an admin answer. A real engine with HTTP on 127.0.0.1 and a KV file in a temp folder.
 * @module
 */

import assert from "node:assert/strict";
import { isoTimes } from "../../../transports/http/present.ts";
import { startConfigFileEngine } from "../../helpers/config_file_engine.ts";
import { tempDir } from "../../helpers/temp.ts";
import { startConsoleEngine, TOKEN } from "./console/fixture.ts";

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function get(base: string, path: string, token = TOKEN) {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  // deno-lint-ignore no-explicit-any -- the tests read the answers' JSON freely
  return { status: res.status, json: await res.json() as any };
}

Deno.test("admin audit: unknown, repeated or bad parameters get a 400 naming them, as on /admin/logs; paging by next still works", async () => {
  const e = await startConsoleEngine();
  try {
    const refused = async (query: string, error: string) => {
      const got = await get(e.base, `/admin/audit${query}`);
      assert.equal(got.status, 400, `${query}: ${JSON.stringify(got.json)}`);
      assert.equal(got.json.error, error, query);
    };
    await refused(
      "?cursor=zzz",
      'cursor: expected the "next" of a previous page; got "zzz"',
    );
    await refused("?before=garbage", 'unknown parameter "before"; allowed: limit, cursor');
    await refused("?limit=2&limit=3", "limit: given more than once");
    await refused("?limit=0", 'limit: expected an integer from 1 to 500; got "0"');
    await refused("?limit=ten", 'limit: expected an integer from 1 to 500; got "ten"');
    // One idea in one place: /admin/logs words a bad cursor the same way.
    const logs = await get(e.base, "/admin/logs?cursor=zzz");
    assert.equal(logs.status, 400);
    assert.equal(logs.json.error, 'cursor: expected the "next" of a previous page; got "zzz"');

    // Three audited actions, then pages of one: each page's next leads to the older entry.
    for (let i = 0; i < 3; i++) {
      const res = await fetch(
        `${e.base}/admin/actors/${encodeURIComponent("mllp-out:127.0.0.1:1")}/pause`,
        { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } },
      );
      await res.body?.cancel();
      assert.ok(res.status === 200 || res.status === 409, `pause ${i}: ${res.status}`);
    }
    const all = await get(e.base, "/admin/audit");
    assert.equal(all.status, 200);
    const ids = (all.json.entries as { id: string }[]).map((x) => x.id);
    assert.ok(ids.length >= 3, JSON.stringify(all.json));
    const first = await get(e.base, "/admin/audit?limit=1");
    assert.deepEqual(first.json.entries.map((x: { id: string }) => x.id), [ids[0]]);
    assert.equal(typeof first.json.next, "string");
    const second = await get(
      e.base,
      `/admin/audit?limit=1&cursor=${encodeURIComponent(first.json.next)}`,
    );
    assert.equal(second.status, 200, JSON.stringify(second.json));
    assert.deepEqual(second.json.entries.map((x: { id: string }) => x.id), [ids[1]]);
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});

Deno.test("admin alerts history: cursor is an unknown parameter (it pages by before), a bad before or limit gets a 400", async () => {
  const e = await startConsoleEngine();
  try {
    const refused = async (query: string, error: string) => {
      const got = await get(e.base, `/admin/alerts/history${query}`);
      assert.equal(got.status, 400, `${query}: ${JSON.stringify(got.json)}`);
      assert.equal(got.json.error, error, query);
    };
    await refused("?cursor=zzz", 'unknown parameter "cursor"; allowed: limit, before');
    await refused(
      "?before=garbage",
      'before: expected the "next" of a previous page; got "garbage"',
    );
    await refused("?before=a&before=b", "before: given more than once");
    await refused("?limit=501", 'limit: expected an integer from 1 to 500; got "501"');
    // A well-formed id is taken (no notifications before it here).
    const ok = await get(e.base, `/admin/alerts/history?limit=5&before=${e.engine.store.newId()}`);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(ok.json, { notifications: [], next: null });
  } finally {
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
});

Deno.test("admin config: loadedAt is ISO 8601 UTC, the time the config was loaded", async () => {
  await using dir = await tempDir({ prefix: "admin-config-" });
  const { e, file, token, startedAt } = await startConfigFileEngine(dir.path);
  try {
    const got = await get(e.base, "/admin/config", token);
    assert.equal(got.status, 200);
    assert.equal(typeof got.json.loadedAt, "string", JSON.stringify(got.json));
    assert.match(got.json.loadedAt, ISO_MS);
    const loadedAt = Date.parse(got.json.loadedAt);
    assert.ok(loadedAt >= startedAt && loadedAt <= Date.now(), got.json.loadedAt);
    assert.equal(got.json.generation, 1);
    assert.equal(got.json.file, file);
  } finally {
    await e.close();
  }
});

Deno.test("isoTimes writes the config's and the alerts' times as ISO 8601 (loadedAt, lastNotifiedAt, nextAt, sentAt)", () => {
  const t = Date.UTC(2026, 0, 15, 8, 30, 0, 250);
  const iso = "2026-01-15T08:30:00.250Z";
  assert.deepEqual(
    isoTimes({
      version: "abc@1",
      generation: 1,
      loadedAt: t,
      firing: [{ since: t, lastNotifiedAt: t, reminders: 2 }],
      channels: [{ attempts: 3, nextAt: t, sentAt: t }],
    }),
    {
      version: "abc@1",
      generation: 1,
      loadedAt: iso,
      firing: [{ since: iso, lastNotifiedAt: iso, reminders: 2 }],
      channels: [{ attempts: 3, nextAt: iso, sentAt: iso }],
    },
  );
});

Deno.test("isoTimes writes the nodes' heartbeat times as ISO 8601 and leaves their durations as numbers", () => {
  const t = Date.UTC(2026, 0, 15, 8, 30, 0, 250);
  const iso = "2026-01-15T08:30:00.250Z";
  assert.deepEqual(
    isoTimes({
      node: "a",
      nodes: [{
        id: "a",
        startedAt: t,
        lastSeen: t + 1000,
        leaseMs: 10_000,
        actors: 3,
        live: true,
      }],
    }),
    {
      node: "a",
      nodes: [{
        id: "a",
        startedAt: iso,
        lastSeen: "2026-01-15T08:30:01.250Z",
        leaseMs: 10_000,
        actors: 3,
        live: true,
      }],
    },
  );
});

Deno.test("isoTimes writes an HTTPS destination's last outcome time (detail.lastAt) as ISO 8601", () => {
  const t = Date.UTC(2026, 0, 15, 8, 30, 0, 250);
  assert.deepEqual(
    isoTimes({ detail: { lastOutcome: "SUCCEEDED", lastAt: t }, oldestAgeMs: 1200 }),
    { detail: { lastOutcome: "SUCCEEDED", lastAt: "2026-01-15T08:30:00.250Z" }, oldestAgeMs: 1200 },
  );
});
