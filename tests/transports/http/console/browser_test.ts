/**
 * The console in a real browser: playwright-core driving Debian's Chromium against a running
 * engine. Sign in, the data flow, a message found by its control id with its attempts, pause and
 * resume, skip and reprocess, the audit entries, and XSS payloads in PID-5, OBX-5 and a file
 * name (and a peer) that stay text. Screenshots go to a folder under the OS temp dir.
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { chromium, type Page, type Response } from "playwright-core";
import { testNeeding } from "../../../helpers/system_tools.ts";
import { sendHl7, startConsoleEngine, TOKEN } from "./fixture.ts";

const browserTest = testNeeding("chromium");

/**
 * Clicks an actor command's button and checks the engine's answer to the form (a 303 to the page
 * saying what was done), so a refusal or a slow answer is named instead of a bare navigation
 * timeout.
 */
async function submitted(page: Page, command: string, click: () => Promise<void>): Promise<void> {
  const posted = (r: Response) =>
    r.request().method() === "POST" && new URL(r.url()).pathname.endsWith(`/${command}`);
  const started = Date.now();
  const [answer] = await Promise.all([
    page.waitForResponse(posted).catch(async (error) => {
      const body = (await page.textContent("body").catch(() => ""))?.replace(/\s+/g, " ");
      throw new Error(
        `${command}: no answer to the form after ${Date.now() - started} ms, at ${page.url()}: ` +
          `${body?.slice(0, 600)} (${(error as Error).message})`,
      );
    }),
    click(),
  ]);
  assert.equal(answer.status(), 303, `${command}: answered ${answer.status()}`);
}

/**
 * Runs `body` against a fresh console engine in Chromium, on one page whose script errors are
 * collected in `errors`; closes the browser and the engine after.
 */
async function inChromium(
  body: (
    t: { e: Awaited<ReturnType<typeof startConsoleEngine>>; page: Page; errors: string[] },
  ) => Promise<void>,
): Promise<void> {
  const e = await startConsoleEngine();
  const browser = await chromium.launch({
    executablePath: Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    await body({ e, page, errors });
  } finally {
    await browser.close();
    await e.close();
    await Deno.remove(e.dir, { recursive: true });
  }
}

const XSS_NAME = `<script>window.__xss=1</script>^"><img src=x onerror="window.__xss=2">`;
const XSS_OBX = `javascript:window.__xss=3`;

function message(controlId: string): string {
  return [
    `MSH|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||ORU^R01^ORU_R01|${controlId}|P|2.5.1|||AL|NE`,
    `PID|1||${controlId}^^^HOSP^MR||${XSS_NAME}||19800101|F`,
    `OBR|1||ORD1|CBC`,
    `OBX|1|ST|TEST^Test||${XSS_OBX}<a href="javascript:alert(1)">x</a>|||N|||F`,
  ].join("\r");
}

browserTest(
  "console in Chromium: sign in, flow, find, attempts, pause/resume, skip, reprocess, audit, XSS inert",
  () =>
    inChromium(async ({ e, page, errors }) => {
      const shots = await Deno.makeTempDir({ dir: tmpdir(), prefix: "console-screenshots-" });
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.accept();
      });
      await sendHl7(e.mllpPort, message("CTRL-XSS-1"));

      // Signed out: /console goes to the sign-in page.
      await page.goto(`${e.base}/console`);
      assert.match(page.url(), /\/console\/login$/);
      await page.fill('input[name="token"]', TOKEN);
      await page.click("text=Sign in with the token");
      await page.waitForURL(/\/console\/connections$/);
      await page.screenshot({ path: join(shots, "connections.png") });
      assert.ok(await page.locator('[data-connection-id="acme"]').isVisible());

      await page.click("text=Acme Lab");
      await page.waitForURL(/\/console\/connections\/acme$/);
      assert.ok(await page.locator(".arrow").first().isVisible());
      await page.screenshot({ path: join(shots, "flow.png") });

      // Find by control id, open the SEND log, see its attempts (the lab port refuses).
      await page.goto(`${e.base}/console/logs`);
      await page.fill('input[name="q"]', "CTRL-XSS-1");
      await page.click("form.filters button[type=submit]");
      await page.waitForSelector("tr[data-log-id]");
      const send = page.locator("tr[data-log-id]", { hasText: "SEND" }).first();
      await send.locator("a").click();
      await page.waitForURL(/\/console\/logs\/[^/]+$/);
      for (let i = 0; i < 50 && (await page.locator("#attempts li").count()) === 0; i++) {
        await page.waitForTimeout(200);
        await page.reload();
      }
      assert.ok((await page.locator("#attempts li").count()) > 0, "attempts shown");
      await page.screenshot({ path: join(shots, "log.png"), fullPage: true });
      const sendUrl = page.url();

      // XSS payloads: text on the page, nothing ran.
      const body = await page.textContent("body");
      assert.ok(body?.includes("<script>window.__xss=1</script>"), "PID-5 shown as text");
      assert.ok(body?.includes("javascript:window.__xss=3"), "OBX-5 shown as text");
      assert.equal(await page.locator("img[src=x]").count(), 0);
      assert.equal(await page.locator('a[href^="javascript:"]').count(), 0);
      assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);
      assert.equal(await page.getAttribute('[data-path="PID-5"] .c >> nth=0', "title"), "PID-5.1");

      // A file's name (as an SFTP poll stores it) with the same payloads: text, nothing ran.
      const file = await e.engine.store.accept({
        queue: "sftp-in:feed",
        origin: { kind: "integration", id: "feed", peer: XSS_OBX },
        payload: new TextEncoder().encode(XSS_NAME),
        contentType: "text/plain",
        fileName: `${XSS_NAME}.hl7`,
        log: { type: "RECEIVE", integrationId: "feed" },
        deliveries: [],
      });
      assert.equal(file.status, "stored");
      await page.goto(`${e.base}/console/logs/${file.status === "stored" ? file.logId : ""}`);
      assert.ok((await page.textContent("body"))?.includes(`file ${XSS_NAME}.hl7`));
      assert.equal(await page.locator("img[src=x]").count(), 0);
      assert.equal(await page.locator('a[href^="javascript:"]').count(), 0);
      assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);

      // Pause and resume the destination's actor.
      const actor = "mllp-out:127.0.0.1:1";
      await page.goto(`${e.base}/console/actors`);
      const row = () => page.locator(`tr[data-actor-id="${actor}"]`);
      await row().locator("text=Pause").click();
      await page.waitForSelector(`tr[data-actor-id="${actor}"][data-state="paused"]`);
      await submitted(page, "resume", () => row().locator("text=Resume").click());
      await page.waitForURL(/done=resume/);
      assert.notEqual(await row().getAttribute("data-state"), "paused");

      // Skip the head to the dead letters (with a reason), then reprocess it.
      // A reason typed, then the focus elsewhere: the live refresh a new log sets off must not
      // replace the form (and lose the reason) before it is submitted.
      const reason = row().locator('input[name="reason"]');
      await reason.fill("lab is down for the day");
      await page.locator("h1").click();
      await sendHl7(e.mllpPort, message("CTRL-LIVE-1"));
      await page.waitForSelector("#live[data-refresh-pending]");
      assert.equal(await reason.inputValue(), "lab is down for the day");
      await submitted(page, "skip", () => row().locator("text=Skip head").click());
      await page.waitForURL(/done=skip/);
      await page.waitForSelector("tr[data-dead-letter]");
      // When it was moved aside, beside when it was queued.
      assert.match(
        (await page.textContent("tr[data-dead-letter] td:nth-child(6)")) ?? "",
        /\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/,
      );
      await page.screenshot({ path: join(shots, "actors.png"), fullPage: true });
      await page.locator("tr[data-dead-letter] >> text=Reprocess").click();
      await page.waitForURL(sendUrl);
      assert.equal(await page.getAttribute("table[data-log-id]", "data-status"), "PENDING");

      // The audit log has every action, with who and from where.
      await page.goto(`${e.base}/console/audit`);
      for (const action of ["pause", "resume", "skip", "reprocess"]) {
        assert.ok(await page.locator(`tr[data-action="${action}"]`).count() >= 1, action);
      }
      assert.ok((await page.textContent("body"))?.includes("lab is down for the day"));
      await page.screenshot({ path: join(shots, "audit.png") });

      // Metrics draw with uPlot; the file name payload downloads, never renders.
      await page.goto(`${e.base}/console/metrics`);
      await page.waitForSelector("#charts .chart");
      await page.screenshot({ path: join(shots, "metrics.png") });
      assert.deepEqual(errors, [], "no script error (the CSP let everything of ours run)");
      assert.equal(dialogs.length, 1, "only the skip confirmation");
    }),
);

browserTest(
  "console in Chromium: a live refresh answered after the operator began typing keeps the typed reason",
  () =>
    inChromium(async ({ e, page, errors }) => {
      await page.goto(`${e.base}/console/login`);
      await page.fill('input[name="token"]', TOKEN);
      await page.click("text=Sign in with the token");
      await page.waitForURL(/\/console\/connections$/);
      // A first message activates the destination's actor: its row (with the skip form) shows.
      await sendHl7(e.mllpPort, message("CTRL-RACE-0"));
      const row = 'tr[data-actor-id="mllp-out:127.0.0.1:1"]';
      await page.goto(`${e.base}/console/actors`);
      await page.waitForSelector(row);
      // The live refresh's request (htmx sends HX-Request) is held until the reason is typed, so
      // its answer comes while the form holds text: the order that lost the reason before.
      let release!: () => void;
      const released = new Promise<void>((resolve) => release = resolve);
      let held!: () => void;
      const holding = new Promise<void>((resolve) => held = resolve);
      await page.route(/\/console\/actors$/, async (route) => {
        if (!route.request().headers()["hx-request"]) return route.continue();
        held();
        await released;
        await route.continue();
      });
      await sendHl7(e.mllpPort, message("CTRL-RACE-1")); // a new log: the page refreshes
      await holding;
      const reason = page.locator(`${row} input[name="reason"]`);
      await reason.fill("typed while a refresh was on its way");
      await page.locator("h1").click();
      release();
      await page.waitForSelector("#live[data-refresh-pending]", { timeout: 10_000 });
      assert.equal(await reason.inputValue(), "typed while a refresh was on its way");
      assert.deepEqual(errors, []);
    }),
);
