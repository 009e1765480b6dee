import assert from "node:assert/strict";
import {
  type ConfigSources,
  parseConfig,
  parseConfigText,
  Secret,
  timingSafeEqual,
} from "../../../actors/config/mod.ts";

const root = new URL("../../../", import.meta.url);

/** Every variable set, every file readable: only the config's own shape is under test. */
const lenient: ConfigSources = { env: (name) => `value-of-${name}`, readFile: (p) => `pem:${p}` };
const bare: ConfigSources = { env: () => undefined, readFile: () => new Error("no such file") };

function problemsOf(value: unknown, sources: ConfigSources = lenient) {
  const result = parseConfig(value, sources);
  assert.equal(result.ok, false, "expected the config to be rejected");
  return result.ok ? [] : result.problems;
}

const minimal = {
  environments: [{ id: "dev", type: "development" }, { id: "prod", type: "production" }],
  integrations: [{
    id: "feed",
    environment: "dev",
    mllp: { port: 9960, allowedIps: ["127.0.0.1"] },
  }],
  destinations: [{ id: "out", environment: "dev", mllp: { host: "127.0.0.1", port: 9961 } }],
  subscriptions: [{ from: { integration: "feed" }, to: ["out"] }],
};

Deno.test("config demo.json is valid and fills in defaults", async () => {
  const text = await Deno.readTextFile(new URL("config/demo.json", root));
  const result = parseConfigText(text, bare);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  assert.equal(result.config.limits.maxHl7Bytes, 30 * 1024 * 1024);
  assert.equal(result.config.destinations[0]?.mllp?.ackTimeoutSeconds, 30);
  assert.equal(result.config.destinations[0]?.mllp?.idleCloseSeconds, 7200);
  assert.equal(result.config.integrations[0]?.mllp?.idleTimeoutSeconds, 600);
});

Deno.test("config example.json shows every section and is valid when its secrets exist", async () => {
  const text = await Deno.readTextFile(new URL("config/example.json", root));
  const value = JSON.parse(text);
  for (
    const section of [
      "node",
      "kv",
      "http",
      "admin",
      "limits",
      "environments",
      "sources",
      "listeners",
      "integrations",
      "sftpServer",
      "destinations",
      "subscriptions",
      "connections",
    ]
  ) assert.ok(section in value, `example.json lacks ${section}`);
  const result = parseConfig(value, lenient);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  assert.ok(result.config.admin.token instanceof Secret);
});

Deno.test("config reports a missing environment variable at its JSON path", () => {
  const problems = problemsOf({ ...minimal, admin: { token: { env: "NOPE_TOKEN" } } }, bare);
  assert.deepEqual(problems, [{
    path: "$.admin.token",
    message: "environment variable NOPE_TOKEN is not set",
  }]);
});

Deno.test("config lists every problem at once, each with path and reason", () => {
  const problems = problemsOf({
    ...minimal,
    integrations: [{ id: "feed", environment: "dev", mllp: { port: 70000, allowedIps: ["nope"] } }],
    destinations: [{ id: "out", environment: "dev", mllp: { host: "h", port: "x" } }],
    bogus: 1,
  });
  const paths = problems.map((p) => p.path);
  assert.ok(paths.includes("$.integrations[0].mllp.port"), paths.join());
  assert.ok(paths.includes("$.integrations[0].mllp.allowedIps[0]"), paths.join());
  assert.ok(paths.includes("$.destinations[0].mllp.port"), paths.join());
  assert.ok(problems.some((p) => p.path === "$" && /bogus/.test(p.message)), paths.join());
});

Deno.test("config refuses a subscription that crosses environments", () => {
  const problems = problemsOf({
    ...minimal,
    destinations: [{ id: "out", environment: "prod", mllp: { host: "h", port: 1 } }],
  });
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.path, "$.subscriptions[0].to[0]");
  assert.match(problems[0]?.message ?? "", /routes across environments/);
});

Deno.test("config refuses unknown references and duplicate ids", () => {
  const problems = problemsOf({
    ...minimal,
    destinations: [
      { id: "out", environment: "dev", mllp: { host: "h", port: 1 } },
      { id: "out", environment: "qa", mllp: { host: "h", port: 2 } },
    ],
    subscriptions: [{ from: { integration: "ghost" }, to: ["nowhere"] }],
  });
  const messages = problems.map((p) => `${p.path}: ${p.message}`);
  assert.ok(
    messages.some((m) => m.startsWith("$.destinations[1].id: duplicate id")),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => m.startsWith("$.destinations[1].environment: unknown environment")),
  );
  assert.ok(messages.includes('$.subscriptions[0].from.integration: unknown integration "ghost"'));
  assert.ok(messages.includes('$.subscriptions[0].to[0]: unknown destination "nowhere"'));
});

Deno.test("config requires https:// for staging and production HTTPS destinations", () => {
  const problems = problemsOf({
    environments: [{ id: "prod", type: "production" }],
    destinations: [{
      id: "api",
      environment: "prod",
      https: { url: "http://api.example.com/", verificationToken: { env: "T" } },
    }],
  });
  assert.deepEqual(problems.map((p) => p.path), ["$.destinations[0].https.url"]);
});

Deno.test("config refuses plain HTTP outside development and a destination with two transports", () => {
  const problems = problemsOf({
    http: { port: 8080 },
    destinations: [{
      id: "d",
      environment: "development",
      mllp: { host: "h", port: 1 },
      https: { url: "https://x/", verificationToken: { env: "T" } },
    }],
  });
  assert.ok(problems.some((p) => p.path === "$.http" && /development/.test(p.message)));
  assert.ok(problems.some((p) => p.path === "$.destinations[0]" && /exactly one/.test(p.message)));
});

Deno.test("config refuses two integrations claiming the same port and address", () => {
  const problems = problemsOf({
    ...minimal,
    integrations: [
      { id: "a", environment: "dev", mllp: { port: 9960, allowedIps: ["10.0.0.1"] } },
      { id: "b", environment: "dev", mllp: { port: 9960, allowedIps: ["10.0.0.1"] } },
    ],
    subscriptions: [],
  });
  assert.equal(problems[0]?.path, "$.integrations[1].mllp.allowedIps[0]");
  assert.match(problems[0]?.message ?? "", /sendingFacility/);
});

Deno.test("config reports JSON syntax errors with line and column", () => {
  const result = parseConfigText('{\n  "node": {\n    "id": "x",\n  }\n}', lenient);
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.problems[0]?.message ?? "", /not valid JSON: .*line 4/);
});

Deno.test("config refuses an object naming a key twice, with its path, instead of keeping the last", () => {
  const text = '{"node": {"id": "a"}, "limits": {"maxMessageBytes": 1000}, "limits": {}}';
  const result = parseConfigText(text, lenient);
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.problems, [{
    path: "$.limits",
    message: '"limits" is named twice in one object (only the last would count)',
  }]);
  // The same key in two different objects is fine.
  assert.ok(parseConfigText('{"node": {"id": "a"}, "kv": {"path": "x.kv"}}', lenient).ok);
});

Deno.test("secrets never show their value when printed or serialised", () => {
  const result = parseConfig(
    { admin: { token: { env: "ADMIN" } } },
    { env: () => "s3cr3t-value-0123", readFile: () => new Error("x") },
  );
  assert.ok(result.ok);
  const token = result.config.admin.token;
  assert.ok(token);
  assert.equal(token.reveal(), "s3cr3t-value-0123");
  for (
    const shown of [
      JSON.stringify(result.config),
      String(token),
      `${token}`,
      Deno.inspect(result.config, { depth: 10 }),
    ]
  ) assert.ok(!shown.includes("s3cr3t"), shown);
  assert.ok(token.equals("s3cr3t-value-0123"));
  assert.ok(!token.equals("s3cr3t-valuE-0123"));
});

Deno.test("timingSafeEqual compares whole strings, lengths included", () => {
  assert.ok(timingSafeEqual("abc", "abc"));
  assert.ok(!timingSafeEqual("abc", "abd"));
  assert.ok(!timingSafeEqual("abc", "abcd"));
  assert.ok(!timingSafeEqual("", "a"));
  assert.ok(timingSafeEqual("", ""));
});

Deno.test("a console user in the config may not be named admin or SIGHUP, in any case", () => {
  const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
  for (const name of ["admin", "Admin", "sighup"]) {
    const problems = problemsOf({
      ...minimal,
      admin: { users: [{ name, role: "viewer", passwordHash: hash }] },
    });
    assert.deepEqual(problems.map((p) => p.path), ["$.admin.users[0].name"]);
    assert.match(problems[0]!.message, /admin and SIGHUP are reserved, in any case/);
  }
  const ok = parseConfig({
    ...minimal,
    admin: { users: [{ name: "admin2", role: "viewer", passwordHash: hash }] },
  }, lenient);
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.problems));
});

Deno.test("config refuses an allowedIps entry that only looks like IPv6, and takes real ones", () => {
  const withIps = (allowedIps: string[]) => {
    const r = parseConfig({
      ...minimal,
      integrations: [{ id: "feed", environment: "dev", mllp: { port: 2575, allowedIps } }],
    }, lenient);
    return r.ok ? [] : r.problems.filter((p) => p.path.includes("allowedIps"));
  };
  for (const bad of [":", "1:2:3", ":::", "1::2::3", "12345::1", "1:2:3:4:5:6:7:8:9", "::1/129"]) {
    const problems = withIps([bad]);
    assert.equal(problems.length, 1, bad);
    assert.equal(problems[0]!.path, "$.integrations[0].mllp.allowedIps[0]", bad);
    assert.match(problems[0]!.message, /expected an IP address or CIDR range/, bad);
  }
  for (const good of ["::1", "fe80::/10", "2001:db8::8a2e:370:7334", "::ffff:10.0.0.1", "::/0"]) {
    assert.deepEqual(withIps([good]), [], good);
  }
});
