/** Throwaway certificates made with openssl for TLS tests. */

/** A CA and a server certificate for `localhost` / 127.0.0.1 signed by it, all PEM. */
export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  dir: string;
}

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (out.code !== 0) {
    throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Creates a CA and a server certificate in a temp folder. */
export async function makePki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir();
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=Test CA",
  );
  await openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  );
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  return {
    dir,
    caCert: await Deno.readTextFile(`${dir}/ca.crt`),
    serverCert: await Deno.readTextFile(`${dir}/server.crt`),
    serverKey: await Deno.readTextFile(`${dir}/server.key`),
  };
}

/** A client certificate (X.509 v3, clientAuth) for `cn`, signed by the PKI's CA, and its key. */
export async function makeClientCert(
  pki: TestPki,
  cn: string,
): Promise<{ cert: string; key: string }> {
  const name = cn.replace(/[^A-Za-z0-9]/g, "_");
  await openssl(
    pki.dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${cn}`,
  );
  // rustls refuses X.509 v1 certificates: the extensions make this one v3.
  await Deno.writeTextFile(
    `${pki.dir}/client.cnf`,
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n" +
      "extendedKeyUsage=clientAuth\n",
  );
  await openssl(
    pki.dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    "client.cnf",
  );
  return {
    cert: await Deno.readTextFile(`${pki.dir}/${name}.crt`),
    key: await Deno.readTextFile(`${pki.dir}/${name}.key`),
  };
}
