import assert from "node:assert/strict";
import {
  claimsFor,
  keys,
  LAB_SECRET,
  PUBLIC_TOKEN_URL,
  signAssertion,
  withIngress,
} from "./ingress_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
/** These tests drive curl as a real peer. */
const curlTest = testNeeding("curl");

const dec = new TextDecoder();

/** Runs curl; returns its status code line and body (curl's `-w` puts the code last). */
async function curl(...args: string[]): Promise<{ status: number; body: string }> {
  const out = await new Deno.Command("curl", {
    args: ["--silent", "--show-error", "--max-time", "10", "-w", "\n%{http_code}", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`curl: ${dec.decode(out.stderr)}`);
  const text = dec.decode(out.stdout);
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}

const message = {
  Meta: { DataModel: "Results", EventType: "New" },
  Orders: [{ ID: "157968300", Results: [{ Code: "2345-7", Value: "90" }] }],
};

curlTest(
  "curl gets a token with a client secret over HTTPS, then POST /endpoint stores the message",
  async () => {
    await withIngress({}, async (e) => {
      const dir = await Deno.makeTempDir({ prefix: "https-e2e-" });
      try {
        await Deno.writeTextFile(`${dir}/ca.pem`, e.pki.caCert);
        await Deno.writeTextFile(`${dir}/message.json`, JSON.stringify(message));
        const token = await curl(
          "--cacert",
          `${dir}/ca.pem`,
          "-u",
          `lab-secret-client:${LAB_SECRET}`,
          "-d",
          "grant_type=client_credentials",
          `${e.base}/v2/auth/token`,
        );
        assert.equal(token.status, 200, token.body);
        const { access_token: accessToken, token_type: type } = JSON.parse(token.body);
        assert.equal(type, "Bearer");

        const posted = await curl(
          "--cacert",
          `${dir}/ca.pem`,
          "-H",
          `Authorization: Bearer ${accessToken}`,
          "-H",
          "Content-Type: application/json",
          "--data-binary",
          `@${dir}/message.json`,
          `${e.base}/endpoint`,
        );
        assert.equal(posted.status, 200, posted.body);
        const logId = JSON.parse(posted.body).Meta.Logs[0].ID;
        const log = await e.store.getLog(logId);
        assert.equal(log?.sourceId, "lab-secret");
        const record = await e.store.getMessage(log!.messageId);
        assert.deepEqual(JSON.parse(dec.decode(await e.store.getPayload(record!))), message);

        // Without the CA, curl does not trust the engine's certificate.
        await assert.rejects(
          curl("-d", "grant_type=client_credentials", `${e.base}/v2/auth/token`),
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);

curlTest(
  "curl gets a token with a JWT client assertion (form fields as the README shows them)",
  async () => {
    await withIngress({}, async (e) => {
      const dir = await Deno.makeTempDir({ prefix: "https-e2e-" });
      try {
        await Deno.writeTextFile(`${dir}/ca.pem`, e.pki.caCert);
        // Signed for the public URL (what clients are told), sent to the local address.
        const assertion = await signAssertion(
          keys.rs,
          claimsFor("lab-rs-client", PUBLIC_TOKEN_URL),
        );
        const r = await curl(
          "--cacert",
          `${dir}/ca.pem`,
          "-d",
          "grant_type=client_credentials",
          "-d",
          "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          "-d",
          `client_assertion=${assertion}`,
          `${e.base}/v2/auth/token`,
        );
        assert.equal(r.status, 200, r.body);
        const checked = await e.tokens.verify(JSON.parse(r.body).access_token);
        assert.ok(checked.ok && checked.sourceId === "lab-rs");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);
