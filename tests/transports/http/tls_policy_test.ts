import assert from "node:assert/strict";
import { Secret } from "../../../actors/config/secret.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { servePublic } from "../../../transports/http/serve.ts";
import { withIngress } from "./ingress_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
/** These tests drive openssl as a real peer. */
const opensslTest = testNeeding("openssl");

const dec = new TextDecoder();

/** What a handshake settled on, or null when it failed. */
type Handshake = { protocol: string; cipher: string } | null;

/**
 * One `openssl s_client` handshake with `flags`. The client is told it may use anything
 * (`@SECLEVEL=0`), so a refusal is the server's doing.
 */
async function probe(port: number, flags: string[]): Promise<Handshake> {
  const child = new Deno.Command("openssl", {
    args: [
      "s_client",
      "-brief",
      "-connect",
      `127.0.0.1:${port}`,
      "-cipher",
      "ALL:COMPLEMENTOFALL:@SECLEVEL=0",
      ...flags,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await child.stdin.close();
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const out = await child.output();
  clearTimeout(timer);
  const text = dec.decode(out.stdout) + dec.decode(out.stderr);
  const protocol = /^Protocol version: (\S+)/m.exec(text)?.[1];
  const cipher = /^Ciphersuite: (\S+)/m.exec(text)?.[1];
  return protocol && cipher ? { protocol, cipher } : null;
}

/** Runs `probe` over many flag sets, a few at a time. */
async function probeAll(port: number, sets: string[][]): Promise<Handshake[]> {
  const results: Handshake[] = new Array(sets.length).fill(null);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < sets.length; i = next++) results[i] = await probe(port, sets[i]!);
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return results;
}

/** An `openssl s_server` that accepts every protocol and suite: proof the client can use them. */
async function permissiveServer(cert: string, key: string) {
  const dir = await Deno.makeTempDir({ prefix: "tls-policy-" });
  await Deno.writeTextFile(`${dir}/cert.pem`, cert);
  await Deno.writeTextFile(`${dir}/key.pem`, key);
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const child = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      `${dir}/cert.pem`,
      "-key",
      `${dir}/key.pem`,
      "-cipher",
      "ALL:@SECLEVEL=0",
      "-min_protocol",
      "TLSv1",
      "-quiet",
    ],
    // s_server stops at the end of its stdin: it stays open until close().
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    async close() {
      child.kill("SIGTERM");
      await child.stdin.close().catch(() => {});
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const RETIRED: [string, string[]][] = [
  ["TLS 1.0", ["-tls1"]],
  ["TLS 1.1", ["-tls1_1"]],
  ["AES128-SHA (RSA key exchange, CBC)", ["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"]],
  ["AES256-GCM-SHA384 (RSA key exchange)", ["-tls1_2", "-cipher", "AES256-GCM-SHA384"]],
  ["ECDHE-RSA-AES128-SHA (CBC, SHA-1)", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"]],
  ["DHE-RSA-AES128-GCM-SHA256 (finite-field DH)", [
    "-tls1_2",
    "-cipher",
    "DHE-RSA-AES128-GCM-SHA256",
  ]],
];

opensslTest(
  "HTTPS refuses TLS 1.0, 1.1 and retired suites that openssl itself would negotiate",
  async () => {
    await withIngress({}, async (e) => {
      const control = await permissiveServer(e.pki.serverCert, e.pki.serverKey);
      try {
        for (const [name, flags] of RETIRED) {
          const possible = await probe(control.port, flags);
          assert.ok(possible, `control: openssl could not negotiate ${name} at all`);
          assert.equal(await probe(e.port, flags), null, `engine accepted ${name}`);
        }
      } finally {
        await control.close();
      }
      assert.deepEqual(
        await probe(e.port, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]),
        { protocol: "TLSv1.2", cipher: "ECDHE-RSA-AES128-GCM-SHA256" },
      );
      assert.equal((await probe(e.port, ["-tls1_3"]))?.protocol, "TLSv1.3");
      // The served app answers over it.
      const r = await e.fetch(`${e.base}/endpoint`, { method: "POST", body: "{}" });
      assert.equal(r.status, 401);
      await r.body?.cancel();
    });
  },
);

/** Every TLS 1.2 suite openssl knows for the given authentication ("RSA" or "ECDSA"). */
async function tls12Suites(): Promise<{ name: string; au: string }[]> {
  const out = await new Deno.Command("openssl", {
    args: ["ciphers", "-v", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
    stdout: "piped",
  }).output();
  return dec.decode(out.stdout).trim().split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] !== "TLSv1.3")
    .map((f) => ({ name: f[0]!, au: f[3]!.replace("Au=", "") }));
}

const TLS13 = [
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_128_CCM_SHA256",
  "TLS_AES_128_CCM_8_SHA256",
];

opensslTest(
  "HTTPS accepts exactly the ECDHE AEAD suites of TLS 1.2 and the GCM/ChaCha20 suites of 1.3",
  async () => {
    const suites = await tls12Suites();
    assert.ok(suites.length > 50, `openssl lists only ${suites.length} TLS 1.2 suites`);
    // An RSA certificate (the fixture's) and an ECDSA one.
    const ec = await ecdsaCertificate();
    const log = memoryLogger();
    const ecServer = await servePublic({
      fetch: () => new Response("ok"),
      http: {
        port: 0,
        hostname: "127.0.0.1",
        development: false,
        tls: {
          cert: new Secret(ec.cert, "t"),
          key: new Secret(ec.key, "t"),
          requireClientCert: false,
        },
      },
      log,
    });
    try {
      await withIngress({}, async (e) => {
        const accepted = async (port: number, au: string) => {
          const names = suites.filter((s) => s.au === au || s.au === "any").map((s) => s.name);
          const got = await probeAll(
            port,
            names.map((n) => ["-tls1_2", "-cipher", `${n}:@SECLEVEL=0`]),
          );
          return names.filter((_, i) => got[i] !== null).sort();
        };
        assert.deepEqual(await accepted(e.port, "RSA"), [
          "ECDHE-RSA-AES128-GCM-SHA256",
          "ECDHE-RSA-AES256-GCM-SHA384",
          "ECDHE-RSA-CHACHA20-POLY1305",
        ]);
        assert.deepEqual(await accepted(ecServer.port, "ECDSA"), [
          "ECDHE-ECDSA-AES128-GCM-SHA256",
          "ECDHE-ECDSA-AES256-GCM-SHA384",
          "ECDHE-ECDSA-CHACHA20-POLY1305",
        ]);
        const tls13 = await probeAll(e.port, TLS13.map((s) => ["-tls1_3", "-ciphersuites", s]));
        assert.deepEqual(
          TLS13.filter((_, i) => tls13[i] !== null),
          ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"],
        );
      });
    } finally {
      await ecServer.shutdown();
    }
  },
);

/** A self-signed P-256 certificate for 127.0.0.1. */
async function ecdsaCertificate(): Promise<{ cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tls-policy-" });
  try {
    const out = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(dec.decode(out.stderr));
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
