/**
 * Operator mistakes the config must catch or forgive: a duration too long for a timer (it would
 * fire after 1 ms) or too short to be of use (a timeout of 0 fails at once, an interval of 0 spins),
 * a secret file written with `echo` (its line end is not part of the secret),
 * an empty or short admin token, a secret file others can read, a config saved with a BOM.
 * @module
 */

import assert from "node:assert/strict";
import { z } from "zod";
import {
  configSchema,
  type ConfigSources,
  loadConfigFile,
  MAX_DAYS,
  MAX_TIMER_MS,
  parseConfig,
  parseConfigText,
} from "../../../actors/config/mod.ts";
import { sandboxSchema } from "../../../actors/config/sandbox.ts";
import { tempDir } from "../../helpers/temp.ts";

const TOKEN = "admin-token-0123456789";
const lenient: ConfigSources = { env: () => TOKEN, readFile: (p) => `pem:${p}` };

/** Milliseconds of one unit, by the setting's name; undefined when it is not a duration. */
function unitMs(name: string): number | "days" | undefined {
  if (/(Seconds|_seconds)$/.test(name)) return 1000;
  if (/(Ms|Millis|_millis)$/.test(name)) return 1;
  if (/Minutes$/.test(name)) return 60_000;
  if (/Hours$/.test(name)) return 3_600_000;
  if (/Days$/.test(name)) return "days";
  return undefined;
}

/** The `maximum` of a JSON Schema node, looking through `anyOf`/`oneOf`/`allOf` wrappers. */
function maximumOf(node: Record<string, unknown>): number | undefined {
  if (typeof node.maximum === "number") return node.maximum;
  if (typeof node.exclusiveMaximum === "number") return node.exclusiveMaximum;
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    for (const branch of (node[key] ?? []) as Record<string, unknown>[]) {
      const max = maximumOf(branch);
      if (max !== undefined) return max;
    }
  }
  return undefined;
}

/** The inclusive `minimum` of a JSON Schema node, looking through wrappers (not `exclusiveMinimum`). */
function minimumOf(node: Record<string, unknown>): number | undefined {
  if (typeof node.minimum === "number") return node.minimum;
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    for (const branch of (node[key] ?? []) as Record<string, unknown>[]) {
      const min = minimumOf(branch);
      if (min !== undefined) return min;
    }
  }
  return undefined;
}

/** Every `properties` entry of a JSON Schema, with its dotted path, at any depth. */
function* properties(node: unknown, at = "$"): Generator<[string, string, unknown]> {
  if (Array.isArray(node)) {
    for (const item of node) yield* properties(item, at);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === "properties" && typeof value === "object" && value !== null) {
      for (const [name, schema] of Object.entries(value)) {
        yield [`${at}.${name}`, name, schema];
        yield* properties(schema, `${at}.${name}`);
      }
    } else if (key !== "default") yield* properties(value, at);
  }
}

/** Every duration setting of the config and sandbox schemas: path, unit and JSON Schema node. */
function* durationSettings(): Generator<[string, number | "days", Record<string, unknown>]> {
  const schemas = [
    z.toJSONSchema(configSchema(lenient), { io: "input", unrepresentable: "any" }),
    z.toJSONSchema(sandboxSchema, { io: "input", unrepresentable: "any" }),
  ];
  for (const schema of schemas) {
    for (const [path, name, node] of properties(schema)) {
      const unit = unitMs(name);
      if (unit === undefined || typeof node !== "object" || node === null) continue;
      yield [path, unit, node as Record<string, unknown>];
    }
  }
}

Deno.test("every duration setting of the config schema has a maximum a timer can hold", () => {
  const seen: string[] = [];
  const unbounded: string[] = [];
  for (const [path, unit, node] of durationSettings()) {
    seen.push(path);
    const max = maximumOf(node);
    if (max === undefined) unbounded.push(`${path}: no maximum`);
    else if (unit === "days" ? max > MAX_DAYS : max * unit > MAX_TIMER_MS) {
      unbounded.push(`${path}: maximum ${max} is over the longest timer (2^31-1 ms)`);
    }
  }
  // The walk reaches every section (a schema change that hid them would make this test empty).
  for (
    const name of [
      "limits.frameTimeoutSeconds",
      "mllp.ackTimeoutSeconds",
      "mllp.idleCloseSeconds",
      "mllp.idleTimeoutSeconds",
      "admin.sessionIdleMinutes",
      "admin.sessionMaxHours",
      "limits.logRetentionDays",
      "alerts.evaluateEverySeconds",
      "remindEverySeconds",
      "schedule.everySeconds",
    ]
  ) assert.ok(seen.some((p) => p.endsWith(name)), `${name} not reached; seen: ${seen.join(" ")}`);
  assert.deepEqual(unbounded, []);
});

Deno.test("every duration setting of the config schema has a floor over 0, or says what its 0 means", () => {
  const seen: string[] = [];
  const floorless: string[] = [];
  for (const [path, , node] of durationSettings()) {
    seen.push(path);
    // `positive()` alone (an `exclusiveMinimum` of 0) lets 1e-9 through: a floor is inclusive.
    const min = minimumOf(node);
    if (min === undefined) floorless.push(`${path}: no minimum`);
    else if (min < 0) floorless.push(`${path}: minimum ${min} is under 0`);
    else if (min === 0 && !String(node.description ?? "").startsWith("0: ")) {
      floorless.push(`${path}: minimum 0 without a "0: <what it means>" description`);
    }
  }
  for (
    const name of [
      "limits.frameTimeoutSeconds",
      "cluster.leaseSeconds",
      "mllp.ackTimeoutSeconds",
      "sftp.intervalSeconds",
      "admin.sessionMaxHours",
      "limits.logRetentionDays",
      "alerts.evaluateEverySeconds",
      "schedule.everySeconds",
    ]
  ) assert.ok(seen.some((p) => p.endsWith(name)), `${name} not reached; seen: ${seen.join(" ")}`);
  assert.deepEqual(floorless, []);
});

/** An SFTP endpoint the schema takes (never connected to). */
const SFTP = {
  host: "127.0.0.1",
  user: "u",
  keys: [{ privateKey: { file: "id" } }],
  hostKeyFingerprint: `SHA256:${"A".repeat(43)}`,
  folder: "in",
};

Deno.test("a duration under its floor is refused with its path, the floor and why; short values tests use pass", () => {
  const result = parseConfig({
    admin: { sessionIdleMinutes: 0.5 },
    cluster: { leaseSeconds: 0.5 },
    limits: { frameTimeoutSeconds: 0, logRetentionDays: 0.01, storageWarningIntervalSeconds: 0 },
    integrations: [{
      id: "feed",
      environment: "development",
      sftp: { ...SFTP, intervalSeconds: 0 },
    }],
    destinations: [{
      id: "out",
      environment: "development",
      mllp: { host: "127.0.0.1", port: 9961, ackTimeoutSeconds: 0, connectTimeoutSeconds: 0.001 },
    }],
    alerts: {
      evaluateEverySeconds: 0.001,
      rules: [{ id: "r", kind: "store-unavailable", forSeconds: -1 }],
    },
  }, lenient);
  assert.equal(result.ok, false);
  const problems = result.ok ? [] : result.problems;
  const at = (path: string) => problems.find((p) => p.path === path)?.message ?? "(none)";
  assert.equal(
    at("$.destinations[0].mllp.ackTimeoutSeconds"),
    "at least 1 second: a destination gets no time to answer",
  );
  assert.match(at("$.destinations[0].mllp.connectTimeoutSeconds"), /^at least 0\.1 seconds: /);
  assert.match(at("$.limits.frameTimeoutSeconds"), /^at least 1 second: a sender gets no time/);
  assert.match(at("$.limits.storageWarningIntervalSeconds"), /^at least 1 second: .*flood/);
  assert.match(at("$.limits.logRetentionDays"), /^at least 1 day: .*deleted/);
  assert.match(at("$.cluster.leaseSeconds"), /^at least 1 second: .*lease/);
  assert.match(at("$.admin.sessionIdleMinutes"), /^at least 1 minute: /);
  assert.match(at("$.integrations[0].sftp.intervalSeconds"), /^at least 0\.1 seconds: .*busy loop/);
  assert.match(at("$.alerts.evaluateEverySeconds"), /^at least 1 second: .*busy loop/);
  assert.match(at("$.alerts.rules[0].forSeconds"), /^at least 0 seconds \(0: fires at once\)/);

  // The short values tests use for speed stay legal, and so does a 0 that means "at once".
  const fast = parseConfig({
    limits: { frameTimeoutSeconds: 1, queryTimeoutSeconds: 1, httpHeaderTimeoutSeconds: 1 },
    cluster: { leaseSeconds: 3 },
    integrations: [{
      id: "feed",
      environment: "development",
      sftp: { ...SFTP, intervalSeconds: 0.2 },
    }],
    destinations: [{
      id: "out",
      environment: "development",
      mllp: { host: "127.0.0.1", port: 9961, ackTimeoutSeconds: 1, connectTimeoutSeconds: 1 },
    }, {
      id: "web",
      environment: "development",
      https: {
        url: "https://127.0.0.1:9443/in",
        verificationToken: { env: "V" },
        timeoutSeconds: 0.3,
      },
    }],
    alerts: {
      channels: [{
        id: "mail",
        email: { host: "127.0.0.1", from: "e@x.org", to: ["o@x.org"], timeoutSeconds: 0.5 },
      }],
      rules: [{ id: "r", kind: "store-unavailable", forSeconds: 0 }],
    },
  }, lenient);
  assert.ok(fast.ok, JSON.stringify(!fast.ok && fast.problems));
});

Deno.test("a timeout longer than the longest timer is refused with its path and the maximum", () => {
  const result = parseConfig({
    admin: { sessionIdleMinutes: 1e6 },
    limits: { frameTimeoutSeconds: 1e12 },
    destinations: [{
      id: "out",
      environment: "development",
      mllp: { host: "127.0.0.1", port: 9961, ackTimeoutSeconds: 3e6, idleCloseSeconds: 2592000 },
    }],
    alerts: { evaluateEverySeconds: 1e9 },
  }, lenient);
  assert.equal(result.ok, false);
  const problems = result.ok ? [] : result.problems;
  const at = (path: string) => problems.find((p) => p.path === path)?.message ?? "(none)";
  assert.match(at("$.limits.frameTimeoutSeconds"), /at most 2147483 seconds/);
  assert.match(at("$.destinations[0].mllp.ackTimeoutSeconds"), /at most 2147483 seconds/);
  assert.match(at("$.destinations[0].mllp.idleCloseSeconds"), /at most 2147483 seconds/);
  assert.match(at("$.admin.sessionIdleMinutes"), /at most 35791 minutes/);
  assert.match(at("$.alerts.evaluateEverySeconds"), /at most 2147483 seconds/);
  // The longest timer itself is fine.
  const edge = parseConfig({ limits: { frameTimeoutSeconds: 2_147_483 } }, lenient);
  assert.ok(edge.ok, JSON.stringify(!edge.ok && edge.problems));
});

/** The admin token a config gets from a `{"file": …}` secret whose file holds `text`. */
function tokenFromFile(text: string) {
  return parseConfig({ admin: { token: { file: "admin.secret" } } }, {
    env: () => undefined,
    readFile: () => text,
  });
}

Deno.test("a secret file's one trailing line end is not part of the secret, other spaces are", () => {
  const cases: [string, string][] = [
    [`${TOKEN}\n`, TOKEN], // echo "$TOKEN" > file
    [`${TOKEN}\r\n`, TOKEN], // an editor on Windows
    [TOKEN, TOKEN], // printf '%s' "$TOKEN" > file
    [`${TOKEN}\n\n`, `${TOKEN}\n`], // one line end only
    [` ${TOKEN} \n`, ` ${TOKEN} `], // spaces are the operator's
  ];
  for (const [text, value] of cases) {
    const result = tokenFromFile(text);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
    assert.equal(result.config.admin.token?.reveal(), value, JSON.stringify(text));
  }
});

Deno.test("an empty secret file is refused like an unset variable", () => {
  for (const text of ["", "\n", "\r\n"]) {
    const result = tokenFromFile(text);
    assert.equal(result.ok, false, JSON.stringify(text));
    assert.deepEqual(!result.ok && result.problems, [{
      path: "$.admin.token",
      message: "file admin.secret is empty",
    }]);
  }
});

Deno.test("an admin token shorter than 16 characters is refused, naming the path and the minimum", () => {
  for (const token of ["Q9", "fifteen-chars-Q"]) {
    const result = parseConfig({ admin: { token: { env: "T" } } }, {
      env: () => token,
      readFile: () => new Error("-"),
    });
    assert.equal(result.ok, false, token);
    const problems = result.ok ? [] : result.problems;
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.path, "$.admin.token");
    assert.match(problems[0]?.message ?? "", /at least 16 characters/);
    assert.ok(!problems[0]?.message.includes(token), "the token is never shown");
  }
  const sixteen = parseConfig({ admin: { token: { env: "T" } } }, {
    env: () => "sixteen-chars-xx",
    readFile: () => new Error("-"),
  });
  assert.ok(sixteen.ok);
});

Deno.test("a secret file group or others can read is warned about once, by name and mode, never by value", async () => {
  if (Deno.build.os === "windows") return;
  await using dir = await tempDir({ prefix: "config-secret-mode-" });
  const write = async (name: string, text: string, mode: number) => {
    await Deno.writeTextFile(`${dir.path}/${name}`, text);
    await Deno.chmod(`${dir.path}/${name}`, mode);
  };
  const cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  await write("open.token", `${TOKEN}\n`, 0o644);
  await write("closed.token", `${TOKEN}\n`, 0o600);
  await write("ca.crt", cert, 0o644); // a certificate alone is public: readable is fine
  await write("writable.crt", cert, 0o666); // but not writable by others
  await Deno.writeTextFile(
    `${dir.path}/config.json`,
    JSON.stringify({
      admin: {
        token: { file: "open.token" },
        users: [{ name: "ops", role: "admin", token: { file: "open.token" } }],
      },
      kv: { path: ":memory:", accessToken: { file: "closed.token" } },
      alerts: {
        channels: [
          {
            id: "mail",
            email: {
              host: "smtp.example.org",
              from: "engine@example.org",
              to: ["ops@example.org"],
              ca: { file: "ca.crt" },
            },
          },
          {
            id: "mail2",
            email: {
              host: "smtp.example.org",
              from: "engine@example.org",
              to: ["ops@example.org"],
              ca: { file: "writable.crt" },
            },
          },
        ],
      },
    }),
  );
  const result = await loadConfigFile(`${dir.path}/config.json`);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  const warnings = result.warnings ?? [];
  assert.deepEqual(warnings.map((w) => [w.file, w.mode]), [
    ["open.token", "0644"],
    ["writable.crt", "0666"],
  ]);
  assert.match(
    warnings[0]!.message,
    /open\.token has mode 0644: it can be read by group or others/,
  );
  assert.match(warnings[1]!.message, /can be written by group or others/);
  assert.ok(!JSON.stringify(warnings).includes(TOKEN), "the value is never in a warning");
});

Deno.test("a config saved with a UTF-8 byte-order mark is read; UTF-16 is named", async () => {
  assert.ok(parseConfigText('\uFEFF{"node": {"id": "bom"}}', lenient).ok);
  await using dir = await tempDir({ prefix: "config-bom-" });
  const file = `${dir.path}/config.json`;
  const json = new TextEncoder().encode('{"node": {"id": "bom"}}');
  await Deno.writeFile(file, new Uint8Array([0xef, 0xbb, 0xbf, ...json]));
  const result = await loadConfigFile(file);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  assert.equal(result.config.node.id, "bom");
  // Notepad's "Unicode": UTF-16 LE with its BOM.
  const utf16 = new Uint8Array([
    0xff,
    0xfe,
    ...[...'{"node":{}}'].flatMap((c) => [c.charCodeAt(0), 0]),
  ]);
  await Deno.writeFile(file, utf16);
  const refused = await loadConfigFile(file);
  assert.deepEqual(!refused.ok && refused.problems, [{
    path: "$",
    message: `${file} is UTF-16 text: save it as UTF-8`,
  }]);
});
