/**
 * Cross-section checks: destinations of kind `sftpOutbox` deliver into the outbox of a user of the
 * hosted `sftpServer`, so that section must exist and name the user; and outside development,
 * token endpoints and JWKS URLs must be https. And a config that also fails its schema still has
 * its well-formed parts cross-checked.
 */

import assert from "node:assert/strict";
import { type ConfigSources, parseConfig } from "../../../actors/config/mod.ts";

/** Every variable set, every file readable: only the config's own shape is under test. */
const lenient: ConfigSources = { env: (name) => `value-of-${name}`, readFile: (p) => `pem:${p}` };

function problemsOf(value: unknown) {
  const result = parseConfig(value, lenient);
  assert.equal(result.ok, false, "expected the config to be rejected");
  return result.ok ? [] : result.problems;
}

const sftpServer = {
  port: 2222,
  hostKey: { env: "HOST_KEY" },
  users: [
    { name: "clinic", publicKeys: ["ssh-ed25519 AAAAC3Nz clinic"], integration: "clinic-files" },
    { name: "lab", publicKeys: ["ssh-ed25519 AAAAC3Nz lab"], integration: "lab-files" },
  ],
};

/** A hosted folder with two users, and an outbox destination for `user`. */
function withOutbox(user: string, server: unknown = sftpServer) {
  return {
    environments: [{ id: "dev", type: "development" }],
    integrations: [
      { id: "clinic-files", environment: "dev" },
      { id: "lab-files", environment: "dev" },
      { id: "feed", environment: "dev", mllp: { port: 9960, allowedIps: ["127.0.0.1"] } },
    ],
    ...(server ? { sftpServer: server } : {}),
    destinations: [
      { id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: 9961 } },
      { id: "results", environment: "dev", sftpOutbox: { user } },
    ],
    subscriptions: [{ from: { integration: "feed" }, to: ["ehr", "results"] }],
  };
}

Deno.test("config accepts an sftpOutbox destination naming a user of the hosted sftpServer", () => {
  const result = parseConfig(withOutbox("lab"), lenient);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  assert.deepEqual(result.config.destinations[1]?.sftpOutbox, {
    user: "lab",
    fileName: "{ts}-{id}.{ext}",
  });
});

Deno.test("config refuses an sftpOutbox destination whose user is not in sftpServer.users", () => {
  const result = parseConfig(withOutbox("billing"), lenient);
  assert.equal(result.ok, false);
  assert.deepEqual(!result.ok && result.problems, [{
    path: "$.destinations[1].sftpOutbox.user",
    message: 'unknown sftpServer user "billing" (known: clinic, lab)',
  }]);
});

Deno.test("config refuses an sftpOutbox destination when there is no sftpServer section", () => {
  // Without a hosted folder no integration can be fed by a user either: keep only the MLLP one.
  const value = withOutbox("lab", null);
  value.integrations = value.integrations.filter((i) => i.mllp);
  const result = parseConfig(value, lenient);
  assert.equal(result.ok, false);
  assert.deepEqual(!result.ok && result.problems, [{
    path: "$.destinations[1].sftpOutbox",
    message:
      'an sftpOutbox destination needs the hosted "sftpServer" section, where user "lab" downloads its files',
  }]);
});

Deno.test("config refuses an sftpOutbox user of a hosted folder that has no users", () => {
  const result = parseConfig(withOutbox("lab", { ...sftpServer, users: [] }), lenient);
  assert.equal(result.ok, false);
  const problems = !result.ok ? result.problems : [];
  // The two user-fed integrations are reported too; the outbox problem is among them.
  assert.ok(
    problems.some((p) =>
      p.path === "$.destinations[1].sftpOutbox.user" &&
      p.message === 'unknown sftpServer user "lab" (known: none)'
    ),
    JSON.stringify(problems),
  );
});

/** A staging source fetching its keys from `jwksUrl`, and a staging destination with OAuth. */
function withUrls(env: "development" | "staging", jwksUrl: string, tokenUrl: string) {
  return {
    http: { development: true, publicUrl: "https://engine.example.org" },
    environments: [{ id: "env", type: env }],
    sources: [{ id: "app", environment: "env", clientId: "app", auth: { jwksUrl } }],
    destinations: [{
      id: "hook",
      environment: "env",
      https: {
        url: "https://hook.example.org/in",
        verificationToken: { env: "T" },
        auth: { type: "oauth2", tokenUrl, clientId: "engine", clientSecret: { env: "S" } },
      },
    }],
  };
}

Deno.test("config refuses plain-http token and JWKS URLs outside development", () => {
  const result = parseConfig(
    withUrls("staging", "http://keys.example.org/jwks", "http://auth.example.org/token"),
    lenient,
  );
  assert.equal(result.ok, false);
  assert.deepEqual(!result.ok && result.problems, [
    {
      path: "$.destinations[0].https.auth.tokenUrl",
      message: "a staging destination must fetch its tokens over https://",
    },
    {
      path: "$.sources[0].auth.jwksUrl",
      message: "a staging source must publish its keys over https://",
    },
  ]);
  const ftp = parseConfig(
    withUrls("development", "ftp://keys.example.org/jwks", "https://auth.example.org/token"),
    lenient,
  );
  assert.deepEqual(!ftp.ok && ftp.problems, [{
    path: "$.sources[0].auth.jwksUrl",
    message: "expected an https:// URL",
  }]);
});

Deno.test("config accepts plain-http token and JWKS URLs in development, https anywhere", () => {
  for (
    const [env, scheme] of [["development", "http"], ["staging", "https"]] as const
  ) {
    const result = parseConfig(
      withUrls(env, `${scheme}://keys.example.org/jwks`, `${scheme}://auth.example.org/token`),
      lenient,
    );
    assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  }
});

Deno.test("config lists cross-section problems together with schema problems, at original indexes", () => {
  const problems = problemsOf({
    http: { port: 8080 }, // plain HTTP outside development: a schema problem of the section
    integrations: [
      { id: "broken", environment: "dev", mllp: { port: 99999 } },
      { id: "feed", environment: "nowhere", mllp: { port: 8080, allowedIps: ["10.0.0.1"] } },
    ],
    destinations: [
      { id: "half", environment: "development", mllp: { host: "h", port: "x" } },
      { id: "out", environment: "development", mllp: { host: "h", port: 1 } },
    ],
    subscriptions: [
      { from: { integration: "broken" }, to: ["half"] },
      { from: { integration: "feed" }, to: ["out", "missing"] },
      { from: { integration: "ghost" }, to: ["out"] },
    ],
  });
  const lines = problems.map((p) => `${p.path}: ${p.message}`);
  const has = (re: RegExp) => assert.ok(lines.some((l) => re.test(l)), lines.join("\n"));
  has(/^\$\.http: plain HTTP/);
  has(/^\$\.integrations\[0\]\.mllp\.port: Too big/);
  has(/^\$\.destinations\[0\]\.mllp\.port: /);
  // Cross-checks of the well-formed parts, with the paths of the original file.
  has(
    /^\$\.integrations\[1\]\.environment: unknown environment "nowhere" \(known: development, staging, production\)$/,
  );
  has(/^\$\.subscriptions\[1\]\.to\[1\]: unknown destination "missing"/);
  has(/^\$\.subscriptions\[2\]\.from\.integration: unknown integration "ghost"/);
  // References to elements that failed their schema are not blamed twice, and the broken http
  // section claims no port.
  assert.ok(
    !lines.some((l) => /"broken"|"half"|already used by \$\.http/.test(l)),
    lines.join("\n"),
  );
  assert.equal(lines.length, 7, lines.join("\n"));
});

/** Two MLLP destinations at one address (one actor, one connection), the second with `second`. */
function sharedAddress(second: Record<string, unknown>) {
  return {
    environments: [{ id: "dev", type: "development" }],
    integrations: [
      { id: "feed", environment: "dev", mllp: { port: 9960, allowedIps: ["127.0.0.1"] } },
    ],
    destinations: [
      { id: "adt", environment: "dev", mllp: { host: "10.0.0.5", port: 6661 } },
      { id: "orders", environment: "dev", mllp: { host: "10.0.0.5", port: 6661, ...second } },
    ],
    subscriptions: [{ from: { integration: "feed" }, to: ["adt", "orders"] }],
  };
}

Deno.test("config refuses MLLP destinations at one host:port whose connection settings differ (the first's would silently apply)", () => {
  const problems = problemsOf(
    sharedAddress({ idleCloseSeconds: 60, tls: { ca: { env: "LAB_CA" } } }),
  );
  assert.deepEqual(problems.map((p) => p.path), [
    "$.destinations[1].mllp.idleCloseSeconds",
    "$.destinations[1].mllp.tls",
  ]);
  assert.match(
    problems[1]!.message,
    /^destination "orders" shares 10\.0\.0\.5:6661 with "adt" \(\$\.destinations\[0\]\): one connection and one FIFO queue carry both, with "adt"'s tls/,
  );
});

Deno.test("config accepts MLLP destinations at one host:port with their own ACK timeout and onNack (each message keeps its destination's)", () => {
  const result = parseConfig(
    sharedAddress({ ackTimeoutSeconds: 5, onNack: "dead-letter" }),
    lenient,
  );
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
});
