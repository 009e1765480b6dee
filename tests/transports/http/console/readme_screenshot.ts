/**
 * Takes the README's screenshot of the console (`docs/console.png`): the console test engine
 * with a few dozen messages, the logs page in Debian's Chromium (playwright-core), 1280×640.
 * Not a test: run it by hand after a change to the pages.
 *
 * Run: `deno run --allow-all tests/transports/http/console/readme_screenshot.ts [out.png]`
 * @module
 */

import { chromium } from "playwright-core";
import { sendHl7, startConsoleEngine, TOKEN } from "./fixture.ts";

const out = Deno.args[0] ?? new URL("../../../../docs/console.png", import.meta.url).pathname;
const EVENTS = ["A01", "A08", "A03", "A04", "A08", "A02"];
const NAMES = [
  "DOE^JANE",
  "ROE^RICHARD",
  "SMITH^ANNA",
  "GARCIA^LUIS",
  "NGUYEN^MAI",
  "KOWALSKI^PIOTR",
];

const e = await startConsoleEngine();
const browser = await chromium.launch({
  executablePath: Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const store = e.engine.store;
  const encoder = new TextEncoder();
  // Finished deliveries, as a day of traffic leaves them (most delivered, some failed).
  for (let i = 0; i < 24; i++) {
    const event = EVENTS[i % EVENTS.length]!;
    const controlId = `MSG${String(48210 + i).padStart(8, "0")}`;
    const id = store.newId();
    const stored = await store.accept({
      queue: "mllp-in:feed",
      origin: { kind: "integration", id: "feed", peer: "10.20.0.14:40112" },
      payload: encoder.encode(
        `MSH|^~\\&|EPIC|HOSP|ENGINE|LAB|20260115123000||ADT^${event}|${controlId}|P|2.5.1\r` +
          `PID|1||MRN${1000 + i}^^^HOSP^MR||${NAMES[i % NAMES.length]}||19800101|F`,
      ),
      contentType: "application/hl7-v2",
      controlId,
      log: { type: "RECEIVE", integrationId: "feed", dataModel: "PatientAdmin", eventType: event },
      messageId: id,
      // A queue no actor reads: the outcome below is what delivery would have recorded.
      deliveries: [{
        queue: "screenshot:lab",
        destinationId: "lab",
        messageId: id,
        originalId: id,
        log: { integrationId: "feed", dataModel: "PatientAdmin", eventType: event, controlId },
      }],
    });
    if (stored.status !== "stored") throw new Error("not stored");
    const failed = i % 7 === 3;
    await store.recordAttempt(stored.sendLogIds![0]!, {
      at: Date.now(),
      outcome: failed ? "FAILED" : "SUCCEEDED",
      reason: failed ? "AE: PID-3 unknown patient" : "AA",
      durationMs: 8 + i % 5,
    });
    await store.updateLog(stored.sendLogIds![0]!, {
      status: failed ? "FAILED" : "SUCCEEDED",
      ...(failed ? { reason: "AE: PID-3 unknown patient" } : {}),
    });
  }
  // And live ones: the lab refuses connections, so these wait with their attempts.
  for (let i = 0; i < 3; i++) {
    await sendHl7(
      e.mllpPort,
      `MSH|^~\\&|EPIC|HOSP|ENGINE|LAB|20260115123000||ORU^R01|LIVE${i}|P|2.5.1\rPID|1||MRN9${i}`,
    );
  }
  const page = await browser.newPage({ viewport: { width: 1280, height: 640 } });
  await page.goto(`${e.base}/console/login`);
  await page.fill('input[name="token"]', TOKEN);
  await page.click("text=Sign in with the token");
  await page.waitForURL(/\/console\/connections$/);
  await page.goto(`${e.base}/console/logs`);
  await page.waitForSelector("tr[data-log-id]");
  await page.screenshot({ path: out });
  const size = (await Deno.stat(out)).size;
  await Deno.stdout.write(encoder.encode(`${out}: ${size} bytes\n`));
} finally {
  await browser.close();
  await e.close();
  await Deno.remove(e.dir, { recursive: true });
}
