/**
 * What `main.ts check` says of the mistakes a config's writer makes most: a secret written inline
 * instead of referenced (never echoing it), a required field left out (`required`, with what is
 * expected), and a subscription asking JSON or FHIR of an MLLP destination (refused up front
 * instead of failing every message after the sender got AA).
 */

import assert from "node:assert/strict";
import { type ConfigSources, formatProblems, parseConfig } from "../../../actors/config/mod.ts";

/** Every variable set, every file readable: only the config's own shape is under test. */
const lenient: ConfigSources = { env: (name) => `value-of-${name}`, readFile: (p) => `pem:${p}` };

function problemsOf(value: unknown): { path: string; message: string }[] {
  const result = parseConfig(value, lenient);
  assert.equal(result.ok, false, "expected the config to be rejected");
  return result.ok ? [] : result.problems;
}

/** The problem at `path` (exactly one), for an exact comparison of its message. */
function messageAt(problems: { path: string; message: string }[], path: string): string {
  const at = problems.filter((p) => p.path === path);
  assert.equal(at.length, 1, `one problem at ${path}: ${JSON.stringify(problems)}`);
  return at[0]!.message;
}

const env = { environments: [{ id: "dev", type: "development" }] };
const feed = { id: "feed", environment: "dev", mllp: { port: 9960, allowedIps: ["127.0.0.1"] } };
const mllpOut = { id: "d", environment: "dev", mllp: { host: "127.0.0.1", port: 9961 } };
const httpsOut = {
  id: "app",
  environment: "dev",
  https: { url: "http://127.0.0.1:9/in", verificationToken: { env: "T" } },
};
const sftpOut = {
  id: "files",
  environment: "dev",
  sftp: {
    host: "files.example",
    user: "engine",
    keys: [{ privateKey: { env: "KEY" } }],
    hostKeyFingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    folder: "/inbox",
    fileName: "{id}.{ext}",
  },
};

const INLINE = 'a secret is given by reference, not inline: {"env": "NAME"} (an environment ' +
  'variable) or {"file": "path"} (a file, relative to the config\'s folder)';

Deno.test("a secret written inline is refused at its path, saying how to reference it, never echoing it", () => {
  const values = ["abcdefabcdef1234", "client-s3cret-value", "admin-token-0123456789", "hook-key"];
  const problems = problemsOf({
    ...env,
    admin: { token: values[2] },
    integrations: [feed],
    destinations: [mllpOut, {
      id: "api",
      environment: "dev",
      https: {
        url: "http://127.0.0.1:9/in",
        verificationToken: values[0],
        auth: {
          type: "oauth2",
          tokenUrl: "http://127.0.0.1:9/token",
          clientId: "engine",
          clientSecret: values[1],
        },
      },
    }],
    subscriptions: [{ from: { integration: "feed" }, to: ["d"] }],
    alerts: {
      channels: [{ id: "ops", webhook: { url: "https://ops.example/h", secret: values[3] } }],
    },
  });
  assert.equal(messageAt(problems, "$.destinations[1].https.verificationToken"), INLINE);
  assert.equal(messageAt(problems, "$.destinations[1].https.auth.clientSecret"), INLINE);
  assert.equal(messageAt(problems, "$.admin.token"), INLINE);
  assert.equal(messageAt(problems, "$.alerts.channels[0].webhook.secret"), INLINE);
  const text = formatProblems("engine.json", problems);
  for (const value of values) assert.ok(!text.includes(value), `${value} is echoed: ${text}`);
});

Deno.test("a secret that is neither a reference nor a scalar says a reference is expected; a missing one is required", () => {
  const problems = problemsOf({
    ...env,
    admin: { token: ["x"] },
    destinations: [{ id: "api", environment: "dev", https: { url: "http://127.0.0.1:9/in" } }],
  });
  assert.equal(
    messageAt(problems, "$.admin.token"),
    'expected a secret reference: {"env": "NAME"} (an environment variable) or {"file": "path"} ' +
      "(a file, relative to the config's folder)",
  );
  assert.equal(
    messageAt(problems, "$.destinations[0].https.verificationToken"),
    'required (a secret reference: {"env": "NAME"} or {"file": "path"})',
  );
});

Deno.test("an MLLP integration without allowedIps is told what to write", () => {
  const problems = problemsOf({
    ...env,
    integrations: [feed, { id: "lab", environment: "dev", mllp: { port: 9962 } }],
  });
  assert.equal(
    messageAt(problems, "$.integrations[1].mllp.allowedIps"),
    'required (an array of IP addresses or CIDRs, e.g. ["10.0.0.0/8"])',
  );
});

Deno.test("any required field left out is 'required' with what is expected, not zod's 'received undefined'; a wrong value keeps its message", () => {
  const problems = problemsOf({
    environments: [{ id: "dev" }],
    integrations: [
      { id: "lab", environment: "dev", mllp: { allowedIps: ["127.0.0.1"] } },
      { id: "ris", environment: "dev", mllp: { port: "x", allowedIps: "10.0.0.1" } },
    ],
    destinations: [{ environment: "dev", mllp: { port: 9961 } }],
    subscriptions: [{ from: { integration: "lab" } }],
  });
  assert.equal(
    messageAt(problems, "$.environments[0].type"),
    'required, expected "development" or "staging" or "production"',
  );
  assert.equal(messageAt(problems, "$.integrations[0].mllp.port"), "required, expected a number");
  assert.equal(messageAt(problems, "$.destinations[0].id"), "required, expected a string");
  assert.equal(messageAt(problems, "$.destinations[0].mllp.host"), "required, expected a string");
  assert.equal(messageAt(problems, "$.subscriptions[0].to"), "required, expected an array");
  assert.ok(problems.every((p) => !/received undefined/.test(p.message)), JSON.stringify(problems));
  // Only an absent field is "required": a value of the wrong type keeps zod's message.
  assert.match(
    messageAt(problems, "$.integrations[1].mllp.port"),
    /expected number, received string/,
  );
  assert.match(
    messageAt(problems, "$.integrations[1].mllp.allowedIps"),
    /expected array, received string/,
  );
});

Deno.test("a subscription asking JSON or FHIR of an MLLP destination is refused, naming the format and the destination; HTTPS and SFTP take them", () => {
  for (const format of ["json", "fhir"]) {
    for (const from of [{ integration: "feed" }, { source: "clinic" }]) {
      const problems = problemsOf({
        ...env,
        sources: [{
          id: "clinic",
          environment: "dev",
          clientId: "clinic",
          auth: { secret: { env: "S" } },
        }],
        integrations: [feed],
        destinations: [mllpOut, httpsOut],
        subscriptions: [{ id: "s", from, to: ["app", "d"], format }],
      });
      assert.deepEqual(problems, [{
        path: "$.subscriptions[0].format",
        message: `"${format}" cannot go to destination "d": an MLLP destination takes HL7 v2 ` +
          'only (use "hl7v2" or leave format out)',
      }], `${format} from ${JSON.stringify(from)}`);
    }
  }
  // What the routing step delivers stays accepted: HL7 v2 anywhere, JSON and FHIR to HTTPS or SFTP.
  for (const format of [undefined, "hl7v2", "json", "fhir"]) {
    const to = format === undefined || format === "hl7v2"
      ? ["d", "app", "files"]
      : ["app", "files"];
    const result = parseConfig({
      ...env,
      integrations: [feed],
      destinations: [mllpOut, httpsOut, sftpOut],
      subscriptions: [{ from: { integration: "feed" }, to, ...(format ? { format } : {}) }],
    }, lenient);
    assert.ok(result.ok, `${format}: ${JSON.stringify(!result.ok && result.problems)}`);
  }
});
