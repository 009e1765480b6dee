/**
 * Destination verification: a challenge sent to the destination's URL (a JSON body
 * `{"verification-token": …, "challenge": <uuid>}` by POST, or the same as query parameters by
 * GET), with the `verification-token` header and the destination's credentials. The destination
 * is verified only when it answers 2xx with a body that contains the challenge. The outcome is
 * kept in KV (see `verification.ts`), whatever it is: the latest check decides.
 *
 * A FHIR server (`https.fhir`) echoes no challenge: it is verified by `GET <base>/metadata`
 * answering 2xx with an R4 (`4.0.x`) CapabilityStatement, with the same credentials.
 * @module
 */

import type { Clock } from "../runtime/clock.ts";
import type { Logger } from "../runtime/log.ts";
import { CredentialError, type CredentialStrategy, type HttpsConfig } from "./credentials/mod.ts";
import { bodySnippet, type HttpSender, HttpSendError } from "./http_client.ts";
import { redact, secretValues } from "./redact.ts";
import type { VerificationRecord, VerificationStore } from "../store/verifications.ts";

/** What {@link verifyDestination} needs. */
export interface VerifyOptions {
  destinationId: string;
  https: HttpsConfig;
  sender: HttpSender;
  /** The destination's strategy (shared with its deliverer, so a cached token is reused). */
  credentials: CredentialStrategy;
  records: VerificationStore;
  clock: Clock;
  log: Logger;
  signal?: AbortSignal;
}

/** The outcome, as stored and as the admin endpoint returns it. */
export interface VerifyResult extends VerificationRecord {
  destinationId: string;
}

/** Enough to find a 36-character challenge in a sensible answer. */
const MAX_ANSWER = 64 * 1024;

/** Sends the challenge, judges the answer, stores and returns the outcome. */
export async function verifyDestination(options: VerifyOptions): Promise<VerifyResult> {
  const { destinationId, https, sender, credentials, records, clock, log } = options;
  const challenge = crypto.randomUUID();
  const token = https.verificationToken.reveal();
  let url = https.url;
  let body = "";
  const headers: Record<string, string> = { "verification-token": token };
  const fhir = https.fhir !== undefined;
  const method = fhir ? "GET" : https.verifyMethod;
  if (fhir) {
    url = `${https.url.replace(/\/+$/, "")}/metadata`;
    headers.accept = "application/fhir+json";
  } else if (https.verifyMethod === "GET") {
    const u = new URL(https.url);
    u.searchParams.set("verification-token", token);
    u.searchParams.set("challenge", challenge);
    url = u.toString();
  } else {
    body = JSON.stringify({ "verification-token": token, challenge });
    headers["content-type"] = "application/json";
  }
  const checkedAt = clock.now();
  let secrets = secretValues(headers);
  const finish = async (verified: boolean, said: string, status?: number) => {
    // An answer may echo the request: never store or log the token it carried.
    const reason = redact(said, secrets);
    const record: VerificationRecord = {
      verified,
      url: https.url,
      checkedAt,
      ...(verified ? { verifiedAt: checkedAt } : {}),
      ...(status !== undefined ? { status } : {}),
      reason,
    };
    await records.set(destinationId, record);
    (verified ? log.info : log.warn)("https.verification", {
      destination: destinationId,
      verified,
      status,
      reason,
    });
    return { destinationId, ...record };
  };

  let response;
  try {
    const auth = await credentials.apply({
      method,
      url,
      headers,
      body,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    secrets = secretValues({ ...headers, ...auth });
    response = await sender.send({
      url,
      method,
      headers: { ...headers, ...auth },
      ...(method === "POST" ? { body } : {}),
      timeoutMs: https.timeoutSeconds * 1000,
      maxBodyBytes: MAX_ANSWER,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (error instanceof CredentialError) {
      return await finish(false, `credentials: ${error.message}`);
    }
    if (error instanceof HttpSendError) return await finish(false, error.message);
    throw error;
  }
  const status = response.status;
  if (status === 401) credentials.invalidate();
  const location = response.headers.get("location");
  if (status < 200 || status >= 300) {
    const what = status >= 300 && status < 400 && location
      ? `redirect to ${location} (redirects are not followed)`
      : bodySnippet(response) || "(empty body)";
    return await finish(false, `HTTP ${status}, not 2xx: ${what}`, status);
  }
  if (fhir) {
    const version = capabilityVersion(response.body);
    return version?.startsWith("4.0")
      ? await finish(true, `HTTP ${status}; a FHIR ${version} CapabilityStatement`, status)
      : await finish(
        false,
        `HTTP ${status} but GET ${url} gave no FHIR R4 CapabilityStatement` +
          (version ? ` (fhirVersion ${version})` : ""),
        status,
      );
  }
  if (!response.body.includes(challenge)) {
    const got = bodySnippet(response, 120) || "an empty body";
    return await finish(
      false,
      `HTTP ${status} but the answer does not echo the challenge: ${got}`,
      status,
    );
  }
  return await finish(true, `HTTP ${status}; the answer echoes the challenge`, status);
}

/** The `fhirVersion` of a CapabilityStatement body; undefined for anything else. */
function capabilityVersion(body: string): string | undefined {
  try {
    const v = JSON.parse(body) as { resourceType?: unknown; fhirVersion?: unknown };
    return v?.resourceType === "CapabilityStatement" && typeof v.fhirVersion === "string"
      ? v.fhirVersion
      : undefined;
  } catch {
    return undefined;
  }
}
