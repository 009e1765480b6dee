import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { type ByteListener, listenMutualTls } from "../../../transports/mllp/node_tls.ts";
import { untilLogged } from "../../helpers/log_flood.ts";
import {
  makeClientCert,
  makePki,
  makeV1ClientCert,
  startSClient,
  type TestPki,
} from "../../helpers/tls.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { tlsFailureReason, x509Version } from "../../../transports/net/tls_reason.ts";

/** These tests drive `openssl s_client` as the client (and make v1 certificates with openssl). */
const opensslTest = testNeeding("openssl");

type Log = ReturnType<typeof memoryLogger>;

/** The `reason` of each `mllp.tls-client-refused` line so far. */
const reasons = (log: Log) =>
  log.lines.filter((l) => l.includes(" mllp.tls-client-refused ")).map((l) =>
    /reason="([^"]*)"|reason=(\S+)/.exec(l)?.slice(1).find((r) => r !== undefined) ?? l
  );

/** The listener's port. */
const portOf = (listener: ByteListener) => (listener.addr as Deno.NetAddr).port;

/**
 * One refused handshake: `openssl s_client` with `flags` until the listener logs a new
 * refusal; that line's reason. The clock first moves past the log throttle's interval, so each
 * refusal gets its line.
 */
async function refusal(
  { log, clock }: { log: Log; clock: ManualClock },
  listener: ByteListener,
  pki: TestPki,
  flags: string[],
): Promise<string> {
  clock.advance(5_000);
  const before = reasons(log).length;
  const client = startSClient(portOf(listener), ["-CAfile", `${pki.dir}/ca.crt`, ...flags]);
  try {
    await untilLogged(log, `a refusal for ${flags.join(" ")}`, () => reasons(log).length > before);
  } finally {
    await client.finish();
  }
  return reasons(log)[before]!;
}

/** Writes a client's certificate and key to files for s_client; its flags. */
async function certFlags(
  pki: TestPki,
  name: string,
  pair: { cert: string; key: string },
): Promise<string[]> {
  await Deno.writeTextFile(`${pki.dir}/${name}.crt`, pair.cert);
  await Deno.writeTextFile(`${pki.dir}/${name}.key`, pair.key);
  return ["-cert", `${pki.dir}/${name}.crt`, "-key", `${pki.dir}/${name}.key`];
}

/**
 * A client with a good certificate is the first connection the listener yields: no refused one
 * was handed on before it.
 */
async function goodClientIsFirstAccepted(listener: ByteListener, pki: TestPki): Promise<void> {
  const good = await makeClientCert(pki, "good");
  const socket = tls.connect({
    host: "127.0.0.1",
    port: portOf(listener),
    servername: "localhost",
    ca: pki.caCert,
    cert: good.cert,
    key: good.key,
  });
  socket.on("error", () => {/* the assertions below tell */});
  try {
    await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
    socket.write("ping");
    const conn = await listener.accept();
    try {
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      assert.equal(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "ping");
    } finally {
      conn.close();
    }
  } finally {
    socket.destroy();
  }
}

/** A mutual-TLS listener on loopback with `pki`'s server certificate and CA, logging to `t.log`. */
function mutualListener(
  pki: Awaited<ReturnType<typeof makePki>>,
  requireClientCert: boolean,
  t: { log: ReturnType<typeof memoryLogger>; clock: ManualClock },
) {
  return listenMutualTls({
    port: 0,
    hostname: "127.0.0.1",
    cert: pki.serverCert,
    key: pki.serverKey,
    ca: pki.caCert,
    requireClientCert,
    log: t.log,
    now: () => t.clock.now(),
  });
}

opensslTest(
  "MLLP over mutual TLS, client certificate required: each refusal's log line names its cause (v1, expired, unknown CA, self-signed, no clientAuth, none sent, TLS 1.1, no AEAD suite)",
  async () => {
    const pki = await makePki();
    const other = await makePki();
    const log = memoryLogger();
    const clock = new ManualClock();
    const t = { log, clock };
    const listener = await mutualListener(pki, true, t);
    try {
      const good = await certFlags(pki, "good", await makeClientCert(pki, "good"));
      // An X.509 v1 certificate signed by the configured CA (rustls: UnsupportedCertVersion).
      const v1 = await certFlags(pki, "v1", await makeV1ClientCert(pki, "v1-client"));
      assert.equal(
        await refusal(t, listener, pki, v1),
        "client certificate is X.509 v1; v3 required",
      );
      // Expired.
      const expired = await makeClientCert(pki, "expired", { expired: true });
      assert.equal(
        await refusal(t, listener, pki, await certFlags(pki, "expired", expired)),
        "client certificate expired [UNABLE_TO_VERIFY_LEAF_SIGNATURE]",
      );
      // Issued by another CA.
      const foreign = await certFlags(pki, "foreign", await makeClientCert(other, "foreign"));
      assert.equal(
        await refusal(t, listener, pki, foreign),
        "client certificate not issued by the configured ca [UNABLE_TO_VERIFY_LEAF_SIGNATURE]",
      );
      // Self-signed (the other PKI's CA certificate, presented as a client certificate).
      const self = await certFlags(pki, "self", {
        cert: other.caCert,
        key: await Deno.readTextFile(`${other.dir}/ca.key`),
      });
      assert.match(await refusal(t, listener, pki, self), /^client certificate is self-signed/);
      // serverAuth only, no clientAuth.
      const serverOnly = await makeClientCert(pki, "server-only", { serverAuthOnly: true });
      assert.match(
        await refusal(t, listener, pki, await certFlags(pki, "server-only", serverOnly)),
        /^client certificate from the configured ca refused \(without the clientAuth extended key usage\?\)/,
      );
      // No certificate at all.
      assert.equal(await refusal(t, listener, pki, []), "no client certificate sent");
      // TLS 1.1 only, with a good certificate.
      assert.match(
        await refusal(t, listener, pki, ["-tls1_1", ...good]),
        /^client offers only TLS 1\.1 or older .*TLS 1\.2 or 1\.3 required/,
      );
      // TLS 1.2 with CBC suites only: with ECDHE, then with RSA key exchange.
      assert.match(
        await refusal(t, listener, pki, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA", ...good]),
        /^no cipher suite in common: the client offers no AEAD suite/,
      );
      assert.match(
        await refusal(t, listener, pki, ["-tls1_2", "-cipher", "AES128-SHA", ...good]),
        /^no key exchange in common: the client offers no ECDHE group/,
      );
      // Every one of them was a separate line (per address and reason); none said "socket hang up".
      assert.ok(!reasons(log).some((r) => r.includes("hang up")), reasons(log).join("\n"));
      // None was handed to the MLLP server.
      await goodClientIsFirstAccepted(listener, pki);
    } finally {
      listener.close();
      await Deno.remove(pki.dir, { recursive: true });
      await Deno.remove(other.dir, { recursive: true });
    }
  },
);

opensslTest(
  "MLLP over mutual TLS, client certificate optional: a presented X.509 v1 certificate is refused with the reason 'client certificate is X.509 v1; v3 required'",
  async () => {
    const pki = await makePki();
    const log = memoryLogger();
    const clock = new ManualClock();
    const t = { log, clock };
    const listener = await mutualListener(pki, false, t);
    try {
      const v1 = await certFlags(pki, "v1", await makeV1ClientCert(pki, "v1-client"));
      assert.equal(
        await refusal(t, listener, pki, v1),
        "client certificate is X.509 v1; v3 required",
      );
      await goodClientIsFirstAccepted(listener, pki);
    } finally {
      listener.close();
      await Deno.remove(pki.dir, { recursive: true });
    }
  },
);

Deno.test("tls-client-refused reason without the certificate at hand: the library's code, in words; a bare hang-up says whether the handshake had completed", async () => {
  const hangUp = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
  assert.equal(
    tlsFailureReason(hangUp, { authorizationError: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }),
    "client certificate does not verify against the configured ca (issued by another CA, " +
      "expired, X.509 v1 rather than v3, or without the clientAuth extended key usage) " +
      "[UNABLE_TO_VERIFY_LEAF_SIGNATURE]",
  );
  assert.equal(
    tlsFailureReason(hangUp, { authorizationError: null, _secureEstablished: false }),
    "connection closed by the client before the TLS handshake completed",
  );
  assert.match(
    tlsFailureReason(hangUp, { authorizationError: null, _secureEstablished: true }),
    /^handshake ended by the TLS library before completion \(client certificate refused\?/,
  );
  // Unknown messages are kept as they are.
  assert.equal(tlsFailureReason(new Error("something new")), "something new");
  // The version of a v3 certificate, and of one that is not DER at all.
  const pki = await makePki();
  try {
    const der = new Uint8Array(new X509Certificate(pki.serverCert).raw);
    assert.equal(x509Version(der), 3);
    assert.equal(x509Version(new Uint8Array([0x30, 0x82])), undefined);
    assert.equal(x509Version(new Uint8Array()), undefined);
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});
