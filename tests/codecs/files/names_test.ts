/**
 * File names for SFTP: the destination template, the poll pattern, temporary names, and the
 * config errors a bad template gets.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../../../actors/config/mod.ts";
import {
  checkTemplate,
  extensionFor,
  globMatcher,
  isTemporaryName,
  renderFileName,
} from "../../../codecs/files/mod.ts";

const fields = {
  id: "01J0ABC",
  receivedAt: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
  ext: "hl7",
  name: "orders",
};

Deno.test("file name template fills {ts}, {id}, {ext}, {name} and keeps names safe", () => {
  assert.equal(renderFileName("{ts}-{id}.{ext}", fields), "20260102T030405.678Z-01J0ABC.hl7");
  assert.equal(renderFileName("{name}_{id}.{ext}", fields), "orders_01J0ABC.hl7");
  // Values from outside (an uploaded file's name) cannot climb folders or hide the file.
  assert.equal(
    renderFileName("{name}-{id}.{ext}", { ...fields, name: "../../etc/passwd" }),
    "____etc_passwd-01J0ABC.hl7",
  );
  assert.equal(renderFileName("{name}.{ext}", { ...fields, name: ".hidden" }), "_hidden.hl7");
});

Deno.test("file name template refuses unknown fields, folders and names that are not unique", () => {
  assert.throws(() => checkTemplate("{ts}-{uuid}.{ext}"), /uses \{uuid\}; known: \{id\}, \{ts\}/);
  assert.throws(() => checkTemplate("out/{id}.hl7"), /must not contain \//);
  assert.throws(() => checkTemplate("{ts}.{ext}"), /needs \{id\}/);
  assert.throws(() => checkTemplate(""), /empty/);
  checkTemplate("{ts}-{id}.{ext}");
});

Deno.test(
  "file name template without {id} or {name} is refused with a text that says only {id} is unique",
  () => {
    assert.throws(() => checkTemplate("{ts}.{ext}"), {
      message: 'fileName template "{ts}.{ext}" needs {id} (unique per message) or {name} ' +
        "(the original file's name, which several messages can share: they then wait for each " +
        "other, see the README)",
    });
    // {name} without {id} stays accepted: existing configs use it.
    checkTemplate("{name}.{ext}");
    checkTemplate("{id}");
  },
);

/** A config with a hosted user `lab` and an outbox destination for it using `fileName`. */
function outboxConfig(fileName: string) {
  return {
    environments: [{ id: "dev", type: "development" }],
    integrations: [{ id: "lab-files", environment: "dev" }],
    sftpServer: {
      port: 2222,
      hostKey: { env: "HOST_KEY" },
      users: [{ name: "lab", publicKeys: ["ssh-ed25519 AAAAC3Nz lab"], integration: "lab-files" }],
    },
    destinations: [{ id: "results", environment: "dev", sftpOutbox: { user: "lab", fileName } }],
  };
}

const lenient = { env: (name: string) => `value-of-${name}`, readFile: (p: string) => `pem:${p}` };

Deno.test(
  "a config whose SFTP file name template has neither {id} nor {name} says why at its JSON path",
  () => {
    const result = parseConfig(outboxConfig("{ts}.{ext}"), lenient);
    assert.equal(result.ok, false);
    assert.deepEqual(!result.ok && result.problems, [{
      path: "$.destinations[0].sftpOutbox.fileName",
      message: 'fileName template "{ts}.{ext}" needs {id} (unique per message) or {name} ' +
        "(the original file's name, which several messages can share: they then wait for each " +
        "other, see the README)",
    }]);
    // {name} without {id} stays accepted: existing configs use it.
    const named = parseConfig(outboxConfig("{name}.{ext}"), lenient);
    assert.ok(named.ok, JSON.stringify(!named.ok && named.problems));
  },
);

Deno.test("a config with a bad SFTP file name template is refused at its JSON path", () => {
  const result = parseConfig({
    environments: [{ id: "dev", type: "development" }],
    destinations: [{
      id: "partner",
      environment: "dev",
      sftpOutbox: { user: "lab", fileName: "{when}.{ext}" },
    }],
  }, { env: () => undefined, readFile: () => new Error("none") });
  assert.equal(result.ok, false);
  const problems = !result.ok ? result.problems : [];
  assert.ok(
    problems.some((p) =>
      p.path === "$.destinations[0].sftpOutbox.fileName" && /uses \{when\}/.test(p.message)
    ),
    JSON.stringify(problems),
  );
});

Deno.test("poll pattern matches * and ? on whole names and leaves hidden files alone", () => {
  const hl7 = globMatcher("*.hl7");
  assert.equal(hl7("a.hl7"), true);
  assert.equal(hl7("a.hl7.bak"), false);
  assert.equal(hl7(".a.hl7"), false);
  const lab = globMatcher("LAB_????.txt");
  assert.equal(lab("LAB_0001.txt"), true);
  assert.equal(lab("LAB_01.txt"), false);
  assert.equal(globMatcher("a+b(1).[x]")("a+b(1).[x]"), true, "regex characters are literal");
  assert.equal(globMatcher(".*")(".env"), true);
  assert.throws(() => globMatcher(""), /pattern is empty/);
});

Deno.test("temporary names and extensions", () => {
  for (const n of [".x.hl7.part", "x.filepart", "x.PART", "x.tmp", "in/.y", "a.upload"]) {
    assert.equal(isTemporaryName(n), true, n);
  }
  for (const n of ["x.hl7", "part", "x.partner"]) assert.equal(isTemporaryName(n), false, n);
  assert.equal(extensionFor("application/hl7-v2"), "hl7");
  assert.equal(extensionFor("application/json; charset=utf-8"), "json");
  assert.equal(extensionFor("application/pdf", "scan.PDF"), "PDF");
  assert.equal(extensionFor("application/x-unknown"), "bin");
});
