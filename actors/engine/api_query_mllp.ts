/**
 * A query to an MLLP destination: a `PatientSearch.Query` becomes `QBP^Q22` or `QRY^A19` (per
 * destination) sent on a connection of its own; the `RSP^K22` / `ADR^A19` comes back as a
 * `PatientSearch.Response`, a refusal (MSA `AE`/`AR`, QAK `AE`/`AR`) in its `Meta.Errors[]`. An
 * accepted answer with neither QAK-2 nor PID (a plain ACK) is a 502: it says nothing about matches.
 * @module
 */

import { hl7ToQueryResponse, queryToHl7, RESPONSE_EVENT } from "../../codecs/datamodel/mod.ts";
import {
  decodeHl7Bytes,
  type Hl7Message,
  newControlId,
  tryParseHl7,
} from "../../codecs/hl7v2/mod.ts";
import { mllpQuery } from "../mllp_out/query.ts";
import { mllpTarget } from "../mllp_out/target.ts";
import type { QueryPart } from "../store/store.ts";
import type { ApiQueryResult } from "../ports.ts";
import {
  answerMeta,
  type ApiQueryOptions,
  encoder,
  invalidQuery,
  type Query,
  recordExchange,
  timedOut,
} from "./api_query_exchange.ts";

/** Sends `q` to its MLLP destination and answers with the response; see the module doc. */
export async function mllpQueryOf(
  options: ApiQueryOptions,
  q: Query,
  signal: AbortSignal,
): Promise<ApiQueryResult> {
  const { config, log } = options;
  const mllp = q.destination.mllp!;
  const id = q.destination.id;
  const invalid = invalidQuery(q, `MLLP destination ${id}`);
  if (invalid) return invalid;
  const controlId = newControlId();
  const settings = mllp.query;
  const hl7 = queryToHl7(q.request.json, {
    style: settings.message,
    controlId,
    maxResults: settings.maxResults,
    ...optional({
      sendingApplication: settings.sendingApplication,
      sendingFacility: settings.sendingFacility,
      receivingApplication: settings.receivingApplication,
      receivingFacility: settings.receivingFacility,
    }),
  });
  const sent: QueryPart = {
    payload: encoder.encode(hl7),
    contentType: "application/hl7-v2",
    controlId,
    messageType: settings.message,
  };
  const deadline = AbortSignal.any([
    signal,
    AbortSignal.timeout(config.limits.queryTimeoutSeconds * 1000),
  ]);
  const result = await mllpQuery({
    connector: options.mllpConnector,
    target: mllpTarget(mllp),
    payload: sent.payload,
    connectTimeoutMs: mllp.connectTimeoutSeconds * 1000,
    signal: deadline,
  });
  if (!result.ok) {
    await recordExchange(options, q, { status: "FAILED", reason: result.reason, sent });
    if (result.kind === "aborted") return timedOut(options, q);
    return { ok: false, status: 502, error: `destination ${id}: ${result.reason}` };
  }
  const text = decodeHl7Bytes(result.frame, config.limits.fallbackCharset);
  const answer: QueryPart = { payload: result.frame, contentType: "application/hl7-v2" };
  const parsed = tryParseHl7(text);
  if (!parsed.ok) {
    const reason = `the answer is not HL7 v2: ${parsed.error.message}`;
    await recordExchange(options, q, { status: "FAILED", reason, sent, response: answer });
    return { ok: false, status: 502, error: `destination ${id}: ${reason}` };
  }
  const msg = parsed.message;
  answer.controlId = msg.controlId ?? "";
  answer.messageType = `${msg.messageType ?? ""}^${msg.triggerEvent ?? ""}`;
  const echoed = msg.get("MSA-2");
  if (echoed !== controlId) {
    const reason = `the answer's MSA-2 is ${JSON.stringify(echoed ?? "")}, ` +
      `not the query's control id ${controlId}`;
    await recordExchange(options, q, { status: "FAILED", reason, sent, response: answer });
    return { ok: false, status: 502, error: `destination ${id}: ${reason}` };
  }
  const silent = withoutQueryStatus(msg, answer.messageType);
  if (silent) {
    await recordExchange(options, q, { status: "FAILED", reason: silent, sent, response: answer });
    return { ok: false, status: 502, error: `destination ${id}: ${silent}` };
  }
  const response = hl7ToQueryResponse(msg, { timeZone: settings.timeZone });
  const refused = response.Meta.Errors.filter((e) => e.Type === "destination");
  const reason = refused.length > 0
    ? refused.map((e) => e.Text).join("; ")
    : `${answer.messageType}: ${
      response.Patient ? 1 : response.PotentialMatches.length
    } patient(s)`;
  const ids = await recordExchange(options, q, {
    status: refused.length > 0 ? "FAILED" : "SUCCEEDED",
    reason,
    sent,
    response: answer,
  });
  log.debug("query.answered", { source: q.source.id, destination: id, controlId });
  return {
    ok: true,
    body: {
      ...response,
      Meta: {
        ...answerMeta(q, RESPONSE_EVENT),
        ...(response.Meta.EventDateTime ? { EventDateTime: response.Meta.EventDateTime } : {}),
        ...(ids ? { Logs: ids.map((ID) => ({ ID })) } : {}),
        Errors: response.Meta.Errors,
      },
    },
  };
}

/**
 * Why an accepted answer cannot tell "no match" from "query not understood", or undefined.
 * Without QAK-2 (`OK`/`NF`/`AE`/`AR`) and without a PID, an `MSA-1 AA` is most likely a plain
 * ACK from a receiver that does not answer queries: reporting it as no match would say a patient
 * does not exist when nobody looked. A refusal (MSA-1 `AE`/`AR`) is already an error, and PID
 * segments without QAK (an HL7 2.3 `ADR^A19`) are still matches.
 */
function withoutQueryStatus(msg: Hl7Message, type: string): string | undefined {
  const ack = msg.get("MSA-1") ?? "";
  if (ack !== "AA" && ack !== "CA") return undefined;
  if ((msg.get("QAK-2") ?? "") !== "" || msg.count("PID") > 0) return undefined;
  const what = msg.count("QAK") > 0
    ? "with an empty QAK-2 (query status)"
    : "without a QAK segment";
  return `the destination answered ${type} ${what} (MSA-1 ${ack}): ` +
    "it does not seem to answer patient queries";
}

function optional<T extends Record<string, unknown>>(fields: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined) out[k as keyof T] = v as T[keyof T];
  }
  return out;
}
