/**
 * `limits.maxSftpConnections`, the hosted SFTP server's total cap on connections: 200 when left
 * out, any whole number from 1 taken, anything else refused with its path and what is expected.
 */

import assert from "node:assert/strict";
import { type ConfigSources, parseConfig } from "../../../actors/config/mod.ts";

const lenient: ConfigSources = { env: () => "admin-token-0123456789", readFile: (p) => `pem:${p}` };

Deno.test("limits.maxSftpConnections is 200 when left out and takes any whole number from 1", () => {
  const absent = parseConfig({}, lenient);
  assert.ok(absent.ok, JSON.stringify(absent));
  assert.equal(absent.config.limits.maxSftpConnections, 200);
  for (const n of [1, 5, 5000]) {
    const set = parseConfig({ limits: { maxSftpConnections: n } }, lenient);
    assert.ok(set.ok, JSON.stringify(set));
    assert.equal(set.config.limits.maxSftpConnections, n);
  }
});

Deno.test("limits.maxSftpConnections refuses 0, negatives, fractions and strings, naming the field", () => {
  const cases: [unknown, RegExp][] = [
    [0, /^at least 1: 0 would refuse every SFTP connection$/],
    [-3, /^at least 1: /],
    [2.5, /^expected a whole number of connections, at least 1$/],
    ["200", /^expected a whole number of connections, at least 1$/],
    [null, /^expected a whole number of connections, at least 1$/],
  ];
  for (const [value, message] of cases) {
    const result = parseConfig({ limits: { maxSftpConnections: value } }, lenient);
    assert.equal(result.ok, false, `${JSON.stringify(value)} was taken`);
    const problems = result.ok ? [] : result.problems;
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.equal(problems[0]!.path, "$.limits.maxSftpConnections", JSON.stringify(value));
    assert.match(problems[0]!.message, message, JSON.stringify(value));
  }
});
