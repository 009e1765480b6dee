/**
 * Why a TLS handshake failed, or a client certificate was refused, in the operator's words: the
 * `reason` of `mllp.tls-client-refused` and `http.tls-failed`.
 *
 * What Deno 2.9.6's `node:tls` (rustls underneath) reports, and so what this maps from:
 * - A client certificate that does not verify, with client certificates required: the handshake
 *   completes inside rustls, then the library destroys the socket, and `tlsClientError` carries
 *   only `socket hang up` (ECONNRESET). The library's verdict is the socket's
 *   `authorizationError`, an OpenSSL-style code mapped from rustls: `DEPTH_ZERO_SELF_SIGNED_CERT`
 *   (self-signed), and `UNABLE_TO_VERIFY_LEAF_SIGNATURE` for the rest: issued by another CA,
 *   expired, an X.509 v1 certificate (webpki's `UnsupportedCertVersion`), or one without the
 *   clientAuth extended key usage, which the code does not tell apart. Where the certificate is at
 *   hand, {@link refusedCertificateReason} reads it to name the cause.
 * - No client certificate: `peer sent no certificates`.
 * - A client offering only TLS 1.1 or older: `peer is incompatible:
 *   SignatureAlgorithmsExtensionRequired`; only suites without AEAD (CBC, RSA key exchange):
 *   `peer is incompatible: NoCipherSuitesInCommon` or `NoKxGroupsInCommon`.
 * - Plain text to the TLS port: `received corrupt message of type InvalidContentType (…)`.
 * - A client refusing the server's certificate: `received fatal alert: UnknownCA` (or another
 *   alert).
 * - A peer closing mid-handshake: `socket hang up`, no `authorizationError`.
 *
 * Anything else keeps the library's own message.
 * @module
 */

import { X509Certificate } from "node:crypto";

/** What is read of the socket a TLS error came with (a `tls.TLSSocket`, or whatever it was). */
export interface TlsSocketState {
  /** The client certificate's verification error, an OpenSSL-style code (Deno: a string). */
  authorizationError?: unknown;
  /** True once the handshake completed inside the TLS library. */
  _secureEstablished?: boolean;
}

/** A refused client certificate and what it is checked against to name the cause. */
export interface PresentedCertificate {
  /** The client's certificate. */
  cert: X509Certificate;
  /** The configured CA bundle ({@link caCertificates}). */
  cas: readonly X509Certificate[];
  /** Now, ms since the epoch; `Date.now()`. */
  now?: number;
}

const CERT_CODES: Record<string, string> = {
  CERT_HAS_EXPIRED: "client certificate expired",
  CERT_NOT_YET_VALID: "client certificate not valid yet (check clocks)",
  CERT_REVOKED: "client certificate revoked",
  DEPTH_ZERO_SELF_SIGNED_CERT:
    "client certificate is self-signed (or a CA certificate), not issued by the configured ca",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "client certificate does not verify against the configured ca " +
    "(issued by another CA, expired, X.509 v1 rather than v3, or without the clientAuth " +
    "extended key usage)",
  UNABLE_TO_GET_ISSUER_CERT: "client certificate does not verify against the configured ca " +
    "(its issuer is unknown)",
  INVALID_PURPOSE: "client certificate is not for client authentication " +
    "(its extended key usage lacks clientAuth)",
};

const INCOMPATIBLE: Record<string, string> = {
  SignatureAlgorithmsExtensionRequired:
    "client offers only TLS 1.1 or older (no signature_algorithms); TLS 1.2 or 1.3 required",
  SupportedVersionsExtensionRequired:
    "client offers only TLS 1.1 or older (no supported_versions); TLS 1.2 or 1.3 required",
  NoCipherSuitesInCommon: "no cipher suite in common: the client offers no AEAD suite " +
    "(TLS 1.3, or TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305; CBC and RSA key exchange " +
    "are refused)",
  NoKxGroupsInCommon: "no key exchange in common: the client offers no ECDHE group " +
    "(a client offering only RSA key exchange or CBC suites?)",
};

/** The certificates of a PEM CA bundle (those that parse). */
export function caCertificates(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  for (const block of blocks ?? []) {
    try {
      out.push(new X509Certificate(block));
    } catch { /* not one: the TLS library reports the bundle */ }
  }
  return out;
}

/**
 * The reason for a refused client certificate, from the socket's `authorizationError` code (the
 * TLS library's verdict, in brackets) and, when at hand, the certificate itself: that names an
 * X.509 v1 or v2 certificate, an expired or not yet valid one, and one no configured CA issued,
 * which the library reports alike.
 */
export function refusedCertificateReason(code: unknown, presented?: PresentedCertificate): string {
  const text = String(code);
  const known = CERT_CODES[text];
  const fallback = known ? `${known} [${text}]` : `client certificate refused [${text}]`;
  if (!presented) return fallback;
  try {
    const { cert, cas } = presented;
    const now = presented.now ?? Date.now();
    const version = x509Version(new Uint8Array(cert.raw));
    if (version !== undefined && version < 3) {
      return `client certificate is X.509 v${version}; v3 required`;
    }
    // Nothing of the certificate's own text (dates, names) goes into the reason: the log
    // throttles per address and reason, and a client choosing the text would get a line each.
    if (Date.parse(cert.validTo) < now) return `client certificate expired [${text}]`;
    if (Date.parse(cert.validFrom) > now) {
      return `client certificate not valid yet (check clocks) [${text}]`;
    }
    if (text === "UNABLE_TO_VERIFY_LEAF_SIGNATURE") {
      return cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))
        ? "client certificate from the configured ca refused (without the clientAuth extended " +
          `key usage?) [${text}]`
        : `client certificate not issued by the configured ca [${text}]`;
    }
  } catch { /* the library's verdict alone */ }
  return fallback;
}

/**
 * The operator's reason for a `tlsClientError`: `error`, with the TLS socket it came with when
 * there is one (its {@link TlsSocketState} is read), and the client's certificate when it was
 * seen.
 */
export function tlsFailureReason(
  error: Error,
  tlsSocket?: object | null,
  presented?: PresentedCertificate,
): string {
  const socket = tlsSocket as TlsSocketState | null | undefined;
  const code = socket?.authorizationError;
  const message = error.message;
  // Refused by the library after verifying the certificate: the socket knows why.
  if (code !== undefined && code !== null && code !== "") {
    return refusedCertificateReason(code, presented);
  }
  if (message === "peer sent no certificates") return "no client certificate sent";
  const incompatible = /^peer is incompatible: (\w+)/.exec(message);
  if (incompatible) {
    const words = INCOMPATIBLE[incompatible[1]!];
    return words ? `${words} [${incompatible[1]}]` : `client is incompatible: ${incompatible[1]}`;
  }
  if (message.startsWith("received corrupt message of type InvalidContentType")) {
    return "not TLS: the client sent plain text (plain MLLP or HTTP?) to a TLS port";
  }
  const alert = /^received fatal alert: (\w+)/.exec(message);
  if (alert) {
    return alert[1] === "UnknownCA"
      ? "the client refused this server's certificate: it does not trust its CA [alert UnknownCA]"
      : `the client ended the handshake with the alert ${alert[1]}`;
  }
  if (message === "socket hang up" && socket && !socket._secureEstablished) {
    return "connection closed by the client before the TLS handshake completed";
  }
  if (message === "socket hang up") {
    return "handshake ended by the TLS library before completion " +
      "(client certificate refused? unknown CA, expired, or not X.509 v3)";
  }
  return message;
}

/**
 * The X.509 version (1, 2 or 3) of a DER certificate, read from its `tbsCertificate` (whose
 * version field is absent in a v1 certificate); undefined when the bytes are not one.
 */
export function x509Version(der: Uint8Array): number | undefined {
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] EXPLICIT INTEGER DEFAULT v1, … } … }
  if (der[0] !== 0x30) return undefined;
  const tbs = contentOf(der, 0);
  if (tbs === undefined || der[tbs] !== 0x30) return undefined;
  const first = contentOf(der, tbs);
  if (first === undefined || first >= der.length) return undefined;
  if (der[first] !== 0xa0) return 1;
  // a0 03 02 01 <v>: v 0, 1, 2 for versions 1, 2, 3.
  if (der[first + 1] !== 0x03 || der[first + 2] !== 0x02 || der[first + 3] !== 0x01) {
    return undefined;
  }
  const value = der[first + 4];
  return value !== undefined && value <= 2 ? value + 1 : undefined;
}

/** Where the content of the DER element at `at` begins (short or long length form, ≤ 4 bytes). */
function contentOf(der: Uint8Array, at: number): number | undefined {
  const length = der[at + 1];
  if (length === undefined) return undefined;
  if (length < 0x80) return at + 2;
  const bytes = length & 0x7f;
  return bytes >= 1 && bytes <= 4 && at + 2 + bytes <= der.length ? at + 2 + bytes : undefined;
}
