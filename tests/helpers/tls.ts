/**
 * Throwaway certificates for TLS tests, made in-process with `@peculiar/x509` on WebCrypto, so
 * TLS tests need no system tool. RSA 2048 keys, as before (tests negotiate ECDHE-RSA suites).
 * The PEM files are also written to `dir` for peers that read files (curl, openssl).
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

/** A CA and a server certificate for `localhost` / 127.0.0.1 signed by it, all PEM. */
export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** A temp folder holding ca.crt, server.crt and server.key; the test removes it. */
  dir: string;
}

interface Issuer {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

const ALG = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

/** Issuers by the PKI's folder, for {@link makeClientCert}. */
const issuers = new Map<string, Issuer>();
let serial = 0;

function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  return x509.PemConverter.encode(
    await crypto.subtle.exportKey("pkcs8", keys.privateKey),
    "PRIVATE KEY",
  );
}

function validity(
  expired = false,
): { notBefore: Date; notAfter: Date; serialNumber: string } {
  // A minute back for clock skew; two days ahead, as the tests never run that long. Expired:
  // valid for a day, ending a day ago.
  const now = Date.now();
  return {
    notBefore: new Date(expired ? now - 2 * 86_400_000 : now - 60_000),
    notAfter: new Date(expired ? now - 86_400_000 : now + 2 * 86_400_000),
    serialNumber: (Date.now() * 1000 + ++serial % 1000).toString(16),
  };
}

async function issue(
  issuer: Issuer,
  cn: string,
  extensions: x509.Extension[],
  expired = false,
): Promise<{ cert: string; key: string }> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    ...validity(expired),
    subject: `CN=${cn}`,
    issuer: issuer.cert.subject,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      ...extensions,
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: await keyPem(keys) + "\n" };
}

/** Creates a CA and a server certificate in a temp folder. */
export async function makePki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "test-pki-" });
  const caKeys = await newKeys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    ...validity(),
    name: "CN=Test CA",
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const issuer = { cert: ca, keys: caKeys };
  issuers.set(dir, issuer);
  const server = await issue(issuer, "localhost", [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([
      { type: "dns", value: "localhost" },
      { type: "ip", value: "127.0.0.1" },
    ]),
  ]);
  const caCert = ca.toString("pem") + "\n";
  await Deno.writeTextFile(`${dir}/ca.crt`, caCert);
  await Deno.writeTextFile(`${dir}/ca.key`, await keyPem(caKeys) + "\n");
  await Deno.writeTextFile(`${dir}/server.crt`, server.cert);
  await Deno.writeTextFile(`${dir}/server.key`, server.key);
  return { dir, caCert, serverCert: server.cert, serverKey: server.key };
}

/** What may be wrong with a client certificate from {@link makeClientCert}. */
export interface ClientCertFlaws {
  /** Valid for a day that ended a day ago. */
  expired?: boolean;
  /** Its extended key usage is serverAuth only, not clientAuth. */
  serverAuthOnly?: boolean;
}

/**
 * A client certificate (X.509 v3, clientAuth) for `cn`, signed by the PKI's CA, and its key;
 * with `flaws`, one a server must refuse.
 */
export async function makeClientCert(
  pki: TestPki,
  cn: string,
  flaws: ClientCertFlaws = {},
): Promise<{ cert: string; key: string }> {
  const issuer = issuers.get(pki.dir);
  if (!issuer) throw new Error(`makeClientCert: ${pki.dir} was not made by makePki here`);
  const usage = flaws.serverAuthOnly
    ? x509.ExtendedKeyUsage.serverAuth
    : x509.ExtendedKeyUsage.clientAuth;
  return await issue(
    issuer,
    cn,
    [new x509.ExtendedKeyUsageExtension([usage])],
    flaws.expired,
  );
}

/**
 * An X.509 **v1** client certificate (no extensions: what `openssl x509 -req` makes without
 * `-extfile`) for `cn`, signed by the PKI's CA, and its key. Needs `openssl` (tests using it are
 * gated with `needs("openssl")`).
 */
export async function makeV1ClientCert(
  pki: TestPki,
  cn: string,
): Promise<{ cert: string; key: string }> {
  const keys = await newKeys();
  const key = await keyPem(keys) + "\n";
  const base = `${pki.dir}/v1-${++serial}`;
  await Deno.writeTextFile(`${base}.key`, key);
  const run = async (args: string[]) => {
    const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
      .output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  await run(["req", "-new", "-key", `${base}.key`, "-subj", `/CN=${cn}`, "-out", `${base}.csr`]);
  await run([
    "x509",
    "-req",
    "-in",
    `${base}.csr`,
    "-CA",
    `${pki.dir}/ca.crt`,
    "-CAkey",
    `${pki.dir}/ca.key`,
    "-set_serial",
    String(Date.now()),
    "-days",
    "2",
    "-out",
    `${base}.crt`,
  ]);
  return { cert: await Deno.readTextFile(`${base}.crt`), key };
}

/** An `openssl s_client` handshake in progress (see {@link startSClient}). */
export interface SClient {
  /** Closes its input (so it ends once the handshake is over) and resolves with its output. */
  finish(): Promise<string>;
}

/**
 * Starts `openssl s_client` against 127.0.0.1:`port` with `flags`. Its input stays open (a TLS 1.3
 * client would otherwise close before the server judged its certificate) until
 * {@link SClient.finish}, which the test must call (in `finally`). Needs `openssl`.
 */
export function startSClient(port: number, flags: string[]): SClient {
  const child = new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, ...flags],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let finished: Promise<string> | undefined;
  return {
    finish() {
      finished ??= (async () => {
        try {
          await child.stdin.close();
        } catch { /* it exited already */ }
        // Bounded: with its input closed s_client ends; 10 s more and it is killed.
        const timer = setTimeout(() => {
          try {
            child.kill();
          } catch { /* gone */ }
        }, 10_000);
        try {
          const out = await output;
          const dec = new TextDecoder();
          return dec.decode(out.stdout) + dec.decode(out.stderr);
        } finally {
          clearTimeout(timer);
        }
      })();
      return finished;
    },
  };
}
