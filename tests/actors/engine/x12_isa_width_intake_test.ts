/**
 * An X12 interchange whose ISA has an element of the wrong width, posted to `POST /endpoint`:
 * refused as a whole, nothing of it stored. A source that asks for acknowledgments gets the TA1
 * `R` with the element's note code; one that does not gets a `400` naming the TA1 code, the
 * element, its width and what was received. The same interchange with the widths right goes
 * through.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import { listLogs } from "../../../actors/store/mod.ts";
import { parseX12 } from "../../../codecs/x12/mod.ts";
import { FetchSender } from "../../../transports/https/mod.ts";
import { wrap, X837P_BODY } from "../../codecs/x12/fixtures.ts";
import { apiOf } from "../../helpers/api.ts";
import { waitFor } from "../../helpers/net.ts";
import { startEngine } from "../../helpers/engine.ts";
import { tempDir } from "../../helpers/temp.ts";

/** An HTTP receiver standing for the payer; it answers 200 to anything. */
function startPayer() {
  let received = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (r) => {
    await r.body?.cancel();
    received++;
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received: () => received,
    stop: () => server.shutdown(),
  };
}

Deno.test("X12 over /endpoint: an ISA element of the wrong width is refused, with TA1 R and its note or a 400 saying why", async () => {
  await using dir = await tempDir({ prefix: "x12-isa-width-" });
  const payer = startPayer();
  const httpSender = new FetchSender();
  const parsed = parseConfig({
    node: { id: "x12-isa" },
    kv: { path: `${dir.path}/engine.kv` },
    http: { port: 0, development: true },
    environments: [{ id: "dev", type: "development" }],
    sources: [
      {
        id: "clinic",
        environment: "dev",
        clientId: "clinic",
        auth: { secret: { env: "CLINIC_SECRET" } },
        x12: { acknowledge: true },
      },
      { id: "billing", environment: "dev", clientId: "billing", auth: { secret: { env: "BS" } } },
    ],
    destinations: [{
      id: "payer",
      environment: "dev",
      https: { url: payer.url, verificationToken: { env: "APP_TOKEN" } },
    }],
    subscriptions: [{ from: { source: "clinic" }, to: ["payer"] }, {
      from: { source: "billing" },
      to: ["payer"],
    }],
  }, {
    env: (n) => ({ CLINIC_SECRET: "clinic-secret", BS: "billing-secret", APP_TOKEN: "t" })[n],
    readFile: () => new Error("no files in these tests"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const e = await startEngine(parsed.config, { httpSender, http: true });
  try {
    const api = apiOf(e);
    const post = async (clientId: string, secret: string, body: string) =>
      await fetch(`${e.base}/endpoint`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${await api.token(clientId, secret)}`,
          "content-type": "application/edi-x12",
        },
        body,
      });
    const good = wrap([X837P_BODY], { control: 5 });
    // ISA06 padded to 14 characters instead of 15: the ISA is 105 characters long.
    const short = good.replace("*SUBMITTERID    *", "*SUBMITTERID   *");
    assert.notEqual(short, good);

    const acked = await post("clinic", "clinic-secret", short);
    assert.equal(acked.status, 200);
    assert.match(acked.headers.get("content-type") ?? "", /^application\/edi-x12/);
    const answer = parseX12(await acked.text()).interchanges[0]!;
    assert.deepEqual(answer.ta1.map((s) => s.elements.slice(1)), [[
      "000000005",
      "061015",
      "1023",
      "R",
      "006",
    ]]);
    assert.equal(answer.groups.length, 0, "no 999 for a rejected interchange");

    const plain = await post("billing", "billing-secret", short);
    assert.equal(plain.status, 400);
    const refusal = await plain.json();
    assert.ok(
      refusal.Meta.Errors[0].Text.startsWith(
        "interchange 000000005 is rejected (TA1 006): ISA06 (sender ID) must be 15 characters " +
          '(padded with spaces), got 14: "SUBMITTERID   "',
      ),
      refusal.Meta.Errors[0].Text,
    );
    const { logs } = await listLogs(e.engine.store.kv, { limit: 500 });
    assert.deepEqual(logs, [], "nothing of a refused interchange is stored");

    // The same interchange with the widths right is taken (and acknowledged with TA1 A).
    const ok = await post("clinic", "clinic-secret", good);
    assert.equal(ok.status, 200);
    const accepted = parseX12(await ok.text()).interchanges[0]!;
    assert.deepEqual(accepted.ta1.map((s) => s.elements[4]), ["A"]);
    await waitFor("the 837 delivered to the payer", () => payer.received() === 1, 15_000);
  } finally {
    await e.close();
    httpSender.close();
    await payer.stop();
  }
});
