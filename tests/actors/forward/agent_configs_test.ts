/** The two-engine example configs of the README (config/agent-*.json) are valid as committed. */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";

const root = new URL("../../../", import.meta.url).pathname;
/** Stands in for the files the examples reference (keys, certificates, Google's JSON). */
const WIF = JSON.stringify({
  type: "external_account",
  audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
  subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
  token_url: "https://sts.googleapis.com/v1/token",
  credential_source: { file: "/var/run/secrets/token" },
});

for (const name of ["agent-site.json", "agent-central.json"]) {
  Deno.test(`config/${name} is a valid config`, async () => {
    const json = JSON.parse(await Deno.readTextFile(`${root}config/${name}`));
    const result = parseConfig(json, {
      env: () => "secret-value",
      readFile: (path) => (path.endsWith(".json") ? WIF : "file content"),
    });
    assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  });
}

Deno.test("the site's forward destination and the central mapping are read as agent mode", async () => {
  const read = async (name: string) => {
    const r = parseConfig(JSON.parse(await Deno.readTextFile(`${root}config/${name}`)), {
      env: () => "secret-value",
      readFile: (path) => (path.endsWith(".json") ? WIF : "file content"),
    });
    assert.ok(r.ok);
    return r.config;
  };
  const site = await read("agent-site.json");
  const central = await read("agent-central.json");
  assert.equal(site.destinations[0]!.forward?.auth.type, "oauth2");
  assert.deepEqual(central.integrations.map((i) => i.forward?.sourceIntegration), [
    "adt-in",
    "lab-files",
  ]);
});
