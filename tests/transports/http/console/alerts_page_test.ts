/**
 * `/console/alerts` on a real engine: a queue rule fires on an MLLP destination that refuses
 * connections (its webhook channel refuses too), and a viewer reads the alert firing — summary,
 * since when, the channel's failed delivery — with the pause reason's markup as text, the rules in
 * force with their parameters, then the alert in the history once it resolved. Signed out, the
 * page sends to the sign-in.
 * @module
 */

import assert from "node:assert/strict";
import type { Config } from "../../../../actors/config/mod.ts";
import { alertStoreOf } from "../../../../actors/store/alerts.ts";
import { startEngine } from "../../../helpers/engine.ts";
import { adt } from "../../../helpers/net.ts";
import { consoleConfig, sendHl7, signIn, TOKEN, VIEWER_PASSWORD } from "./fixture.ts";

const ACTOR = "mllp-out:127.0.0.1:1";
const MARKUP = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
const TIME = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/;

/** The console fixture's engine with a queue and an actor-stalled rule on `lab`, via `ops`. */
function config(kvPath: string): Promise<Config> {
  return consoleConfig(kvPath, {
    alerts: {
      // Evaluated by the test (tick), not by the loop.
      evaluateEverySeconds: 3600,
      channels: [{
        id: "ops",
        webhook: {
          url: "http://127.0.0.1:1/hook",
          secret: { env: "CONSOLE_TEST_TOKEN" },
          timeoutSeconds: 1,
          attempts: 1,
        },
      }],
      rules: [
        { id: "lab-stuck", kind: "queue", destination: "lab", maxDepth: 0, channels: ["ops"] },
        { id: "lab-stalled", kind: "actor-stalled", forSeconds: 3600 },
      ],
    },
  });
}

/** Waits (bounded) until `test` holds, polling the engine's own state. */
async function until(what: string, test: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("console alerts: a viewer sees the alert firing (markup inert), its channel's delivery, the rules, then the resolved alert", async () => {
  const dir = await Deno.makeTempDir({ prefix: "console-alerts-" });
  const e = await startEngine(await config(`${dir}/engine.kv`), { http: true });
  try {
    const signedOut = await fetch(`${e.base}/console/alerts`, { redirect: "manual" });
    await signedOut.body?.cancel();
    assert.equal(signedOut.status, 303);
    assert.equal(signedOut.headers.get("location"), "/console/login");

    await sendHl7(e.mllpPort, adt("ALERTS-PAGE-1"));
    const statusOf = async () => (await e.engine.supervisor.statuses()).find((s) => s.id === ACTOR);
    await until("a failed attempt", async () => (await statusOf())?.lastError !== undefined);
    const admin = (path: string, body: unknown) =>
      fetch(`${e.base}/admin/actors/${ACTOR}/${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const pause = await admin("pause", { by: "oncall", reason: MARKUP });
    assert.equal(pause.status, 200);
    await pause.body?.cancel();
    await until("the pause", async () => (await statusOf())?.state === "paused");
    await e.alerts.tick();

    const viewer = await signIn(e.base, { name: "vera", password: VIEWER_PASSWORD });
    const get = async () => {
      const r = await fetch(`${e.base}/console/alerts`, { headers: { cookie: viewer.cookie } });
      assert.equal(r.status, 200, "a viewer reads the alerts page");
      return await r.text();
    };
    let page = await get();
    assert.match(page, /<a href="\/console\/alerts" aria-current="page">Alerts<\/a>/);
    assert.ok(!page.includes("<script>alert"), "no markup of a summary is live");
    assert.ok(!page.includes("<img src=x"), "no markup of a summary is live");
    const firing = /<table id="firing">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? "";
    const row = new RegExp(
      `<tr data-alert-rule="lab-stuck" data-alert-subject="${ACTOR}"[^>]*>` +
        `([\\s\\S]*?)</tr>`,
    ).exec(firing)?.[1] ?? "";
    assert.ok(row, `the queue alert is firing: ${firing}`);
    assert.match(row, /\(queue\)/);
    assert.match(
      row,
      /queue mllp-out:127\.0\.0\.1:1[^:]*: depth 1 &gt; 0; 1 waiting/,
    );
    assert.ok(row.includes("paused by oncall: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert.match(row, TIME, "since when, in UTC");
    assert.match(row, /<li data-channel="ops" data-delivery="failed">ops: failed, 1 attempt/);
    assert.match(row, /127\.0\.0\.1:1/, "the channel's last error");
    assert.ok(!/<tr data-alert-rule="lab-stalled"/.test(firing), "a stall under an hour");

    const rules = /<table id="rules">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? "";
    const stuck = /<tr data-rule-id="lab-stuck" data-kind="queue">([\s\S]*?)<\/tr>/
      .exec(rules)?.[1] ?? "";
    assert.match(stuck, /destination: lab, maxDepth: 0/);
    assert.match(stuck, /<td>ops<\/td>/);
    const stalled = /<tr data-rule-id="lab-stalled" data-kind="actor-stalled">([\s\S]*?)<\/tr>/
      .exec(rules)?.[1] ?? "";
    assert.match(stalled, /forSeconds: 3600/);
    assert.match(stalled, /all \(ops\)/);
    assert.match(page, /id="none-resolved"/);

    // The head is skipped: the queue empties and the alert resolves.
    const skip = await admin("skip", { by: "oncall", reason: "test" });
    assert.equal(skip.status, 200);
    await skip.body?.cancel();
    await until("an empty queue", async () => (await statusOf())?.queueDepth === 0);
    await e.alerts.tick();
    page = await get();
    assert.match(page, /id="none-firing"/);
    assert.ok(!page.includes("<script>alert"), "no markup of a summary is live");
    const resolved = /<table id="resolved">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? "";
    const done =
      /<tr data-notification-id="[^"]+" data-alert-rule="lab-stuck"[^>]*>([\s\S]*?)<\/tr>/
        .exec(resolved)?.[1] ?? "";
    assert.ok(done, `the resolved alert is in the history: ${resolved}`);
    assert.match(done, /resolved[^:<]*: queue mllp-out:127\.0\.0\.1:1/);
    const times = done.match(new RegExp(TIME.source, "g")) ?? [];
    assert.ok(times.length >= 2, `when it fired and when it resolved: ${done}`);
  } finally {
    await e.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("console alerts: the history lists resolved alerts newest first, 50 a page with an Older link, their text inert", async () => {
  const dir = await Deno.makeTempDir({ prefix: "console-alerts-" });
  const e = await startEngine(await config(`${dir}/engine.kv`), { http: true });
  try {
    const store = e.engine.store;
    const at = Date.parse("2026-12-07T07:00:00Z");
    const notify = Array.from({ length: 60 }, (_, i) => ({
      id: store.newId(),
      at: at + i * 60_000 + 30_000,
      event: i % 2 ? "resolved" as const : "firing" as const,
      rule: "lab-stuck",
      kind: "queue",
      subject: `peer-${i}`,
      summary: `resolved: ${MARKUP} #${i}`,
      since: at + i * 60_000,
      node: "test",
      deliveries: [],
    }));
    // 30 resolved among 60 notifications, then 60 more resolved: 90 in all.
    const more = Array.from({ length: 60 }, (_, i) => ({
      ...notify[1]!,
      id: store.newId(),
      subject: `later-${i}`,
      at: at + 3_600_000 + i * 1000,
    }));
    await alertStoreOf(store).commit({ notify });
    await alertStoreOf(store).commit({ notify: more });
    const viewer = await signIn(e.base, { name: "vera", password: VIEWER_PASSWORD });
    const rows = async (path: string) => {
      const r = await fetch(`${e.base}${path}`, { headers: { cookie: viewer.cookie } });
      assert.equal(r.status, 200);
      const page = await r.text();
      assert.ok(!page.includes("<script>alert"), "no markup of a summary is live");
      const subjects = [
        ...page.matchAll(/<tr data-notification-id="[^"]+" [^>]*data-alert-subject="([^"]+)"/g),
      ]
        .map((m) => m[1]!);
      const older = /<a href="(\/console\/alerts\?before=[^"]+)">/.exec(page)?.[1];
      return { subjects, older: older?.replaceAll("&amp;", "&") };
    };
    const first = await rows("/console/alerts");
    assert.equal(first.subjects.length, 50);
    assert.equal(first.subjects[0], "later-59", "newest first");
    assert.ok(first.subjects.every((s) => !s.startsWith("peer-") || Number(s.slice(5)) % 2 === 1));
    assert.ok(first.older, "an Older link");
    const second = await rows(first.older!);
    assert.equal(second.subjects.length, 40);
    assert.equal(second.subjects.at(-1), "peer-1", "the oldest resolved last");
    assert.equal(second.older, undefined, "nothing older");
  } finally {
    await e.close();
    await Deno.remove(dir, { recursive: true });
  }
});
