/**
 * Key rotation: which configured key is offered when, and (against a real sshd) which one logs in,
 * what the admin endpoint shows, and the fallback to an older valid key the server still knows.
 */

import assert from "node:assert/strict";
import { Secret } from "../../../actors/config/secret.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { SftpAuthError } from "../../../actors/sftp/connector.ts";
import { RemoteSftpEndpoint } from "../../../actors/sftp/endpoint.ts";
import { KeyRing, NoUsableKeyError, usableKeys } from "../../../actors/sftp/keys.ts";
import { sshSftpConnector } from "../../../transports/sftp/client.ts";
import { startSshd, testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
/** These tests drive sshd, ssh-keygen as a real peer. */
const sshTest = testNeeding("sshd", "ssh-keygen");

const NOW = Date.parse("2026-06-01T00:00:00Z");
const key = (name: string, notBefore?: string, notAfter?: string) => ({
  privateKey: new Secret(`-----KEY ${name}-----`, `env:${name}`),
  ...(notBefore ? { notBefore } : {}),
  ...(notAfter ? { notAfter } : {}),
});

Deno.test("key rotation offers the newest valid key first and skips expired and future keys", () => {
  const keys = [
    key("OLD", "2025-01-01T00:00:00Z", "2026-03-01T00:00:00Z"), // expired
    key("NOWINDOW"), // always valid, counts as oldest
    key("CURRENT", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    key("NEXT", "2026-09-01T00:00:00Z"), // not yet
    key("RECENT", "2026-05-01T00:00:00+02:00"),
  ];
  const { usable, skipped } = usableKeys(keys, NOW);
  assert.deepEqual(usable.map((k) => k.source), ["env:RECENT", "env:CURRENT", "env:NOWINDOW"]);
  assert.equal(usable[0]!.privateKey, "-----KEY RECENT-----");
  assert.deepEqual(skipped.map((s) => [s.index, s.reason]), [
    [0, "expired at 2026-03-01T00:00:00Z"],
    [3, "is not valid before 2026-09-01T00:00:00Z"],
  ]);
  // The boundaries: notBefore is inclusive, notAfter exclusive.
  const edge = [key("A", "2026-06-01T00:00:00Z"), key("B", undefined, "2026-06-01T00:00:00Z")];
  assert.deepEqual(usableKeys(edge, NOW).usable.map((k) => k.source), ["env:A"]);
  // Two keys without windows: the later in the list is the newer.
  assert.deepEqual(usableKeys([key("X"), key("Y")], NOW).usable.map((k) => k.source), [
    "env:Y",
    "env:X",
  ]);
});

Deno.test("key rotation with no valid key says why for each key", () => {
  const ring = new KeyRing([
    key("OLD", undefined, "2026-01-01T00:00:00Z"),
    key("NEW", "2027-01-01T00:00:00Z"),
  ]);
  assert.throws(() => ring.candidates(NOW), (error: unknown) => {
    assert.ok(error instanceof NoUsableKeyError);
    assert.match(error.message, /key 0 \(env:OLD\) expired at 2026-01-01T00:00:00Z/);
    assert.match(error.message, /key 1 \(env:NEW\) is not valid before 2027-01-01T00:00:00Z/);
    return true;
  });
  assert.deepEqual(ring.describe(NOW).map((k) => k.state), ["expired", "not yet valid"]);
  assert.throws(() => new KeyRing([]), /at least one key/);
});

async function rotationSetup(authorized: string[]) {
  const [oldKey, currentKey, nextKey] = await Promise.all([
    testKey("rot_old"),
    testKey("rot_current"),
    testKey("rot_next"),
  ]);
  const all = { oldKey, currentKey, nextKey } as const;
  const sshd = await startSshd({
    authorizedKeys: authorized.map((n) => all[n as keyof typeof all].publicKey),
  });
  const clock = new ManualClock(NOW);
  const log = memoryLogger();
  const secret = (k: typeof oldKey, name: string) => new Secret(k.privateKey, `env:${name}`);
  const endpoint = new RemoteSftpEndpoint({
    owner: "sftp-poll:lab",
    endpoint: {
      host: "127.0.0.1",
      port: sshd.port,
      user: sshd.user,
      hostKeyFingerprint: sshd.hostKey.fingerprint,
      keys: [
        { privateKey: secret(oldKey, "OLD"), notAfter: "2026-03-01T00:00:00Z" },
        { privateKey: secret(currentKey, "CURRENT"), notBefore: "2026-01-01T00:00:00Z" },
        { privateKey: secret(nextKey, "NEXT"), notBefore: "2026-07-01T00:00:00Z" },
      ],
    },
    connector: sshSftpConnector,
    clock,
    log,
    timeoutMs: 10_000,
  });
  return { ...all, sshd, clock, log, endpoint };
}

sshTest(
  "key rotation logs in with the newest valid key and shows it; moves on when the next one starts",
  async () => {
    const t = await rotationSetup(["oldKey", "currentKey", "nextKey"]);
    try {
      (await t.endpoint.open()).close();
      const accepted = () => t.sshd.lines.filter((l) => l.includes("Accepted publickey"));
      assert.equal(accepted().length, 1);
      // sshd saw the current key: not the expired one (which it would also accept), not the next.
      assert.ok(accepted()[0]!.includes(t.currentKey.fingerprint), accepted()[0]);
      const described = t.endpoint.describe();
      assert.deepEqual(
        {
          index: (described.keyInUse as { index: number }).index,
          source: (described.keyInUse as { source: string }).source,
        },
        { index: 1, source: "env:CURRENT" },
      );
      assert.deepEqual((described.keys as { state: string }[]).map((k) => k.state), [
        "expired",
        "valid",
        "not yet valid",
      ]);
      assert.doesNotMatch(JSON.stringify(described), /PRIVATE KEY/);
      assert.equal(t.log.lines.filter((l) => l.includes("sftp.key-in-use")).length, 1);
      // July: the next key's window opens and it takes over.
      t.clock.advance(40 * 24 * 3600_000);
      (await t.endpoint.open()).close();
      assert.ok(accepted()[1]!.includes(t.nextKey.fingerprint), accepted()[1]);
      assert.equal((t.endpoint.describe().keyInUse as { source: string }).source, "env:NEXT");
      const rotations = t.log.lines.filter((l) => l.includes("sftp.key-in-use"));
      assert.equal(rotations.length, 2);
      assert.match(rotations[1]!, /key=2 source=env:NEXT/);
    } finally {
      await t.sshd.stop();
    }
  },
);

sshTest(
  "key rotation falls back to an older valid key while the server does not know the new one yet",
  async () => {
    // July: CURRENT and NEXT are both valid, but the counterparty has installed only CURRENT.
    const t = await rotationSetup(["currentKey"]);
    try {
      t.clock.advance(40 * 24 * 3600_000);
      (await t.endpoint.open()).close();
      const inUse = t.endpoint.describe().keyInUse as { source: string; fallback?: boolean };
      assert.equal(inUse.source, "env:CURRENT");
      assert.equal(inUse.fallback, true);
      assert.match(
        t.log.lines.find((l) => l.includes("sftp.key-refused"))!,
        /key=2 source=env:NEXT next=1/,
      );
      // When neither valid key is accepted, the error says which keys were tried.
      await t.sshd.authorize(t.oldKey.publicKey);
      await assert.rejects(t.endpoint.open(), (error: unknown) => {
        assert.ok(error instanceof SftpAuthError);
        assert.match(error.message, /every valid key was refused \(keys 2, 1\)/);
        return true;
      });
    } finally {
      await t.sshd.stop();
    }
  },
);
