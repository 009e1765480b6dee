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

function validity(): { notBefore: Date; notAfter: Date; serialNumber: string } {
  // A minute back for clock skew; two days ahead, as the tests never run that long.
  const now = Date.now();
  return {
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 2 * 86_400_000),
    serialNumber: (Date.now() * 1000 + ++serial % 1000).toString(16),
  };
}

async function issue(
  issuer: Issuer,
  cn: string,
  extensions: x509.Extension[],
): Promise<{ cert: string; key: string }> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    ...validity(),
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

/** A client certificate (X.509 v3, clientAuth) for `cn`, signed by the PKI's CA, and its key. */
export async function makeClientCert(
  pki: TestPki,
  cn: string,
): Promise<{ cert: string; key: string }> {
  const issuer = issuers.get(pki.dir);
  if (!issuer) throw new Error(`makeClientCert: ${pki.dir} was not made by makePki here`);
  return await issue(issuer, cn, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ]);
}
