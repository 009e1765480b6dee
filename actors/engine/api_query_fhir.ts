/**
 * A query to a FHIR server (an HTTPS destination with `https.fhir`): a `PatientSearch.Query`
 * becomes `GET <base>/Patient?identifier=…&family=…` (codecs/fhir/search.ts) with the
 * destination's credentials; the `searchset` Bundle comes back as a `PatientSearch.Response`, an
 * OperationOutcome or any other status in its `Meta.Errors[]`. A client that asked for FHIR
 * (`ApiRequest.fhir`) gets a `searchset` Bundle instead (`searchsetAnswer`: the server's
 * resources as they came; `Bundle.id` the REQUEST log's), and a `502` carrying the server's
 * OperationOutcome issues for an error status or an answer that is no searchset.
 * @module
 */

import { RESPONSE_EVENT } from "../../codecs/datamodel/mod.ts";
import {
  FhirError,
  outcomeIssuesOf,
  patientSearchParams,
  searchsetAnswer,
  searchsetToQueryResponse,
} from "../../codecs/fhir/mod.ts";
import { describeResponse } from "../https_out/mod.ts";
import { describeFhirFailure } from "../https_out/fhir_answer.ts";
import type { QueryPart } from "../store/store.ts";
import type { ApiQueryResult } from "../ports.ts";
import {
  answerMeta,
  type ApiQueryOptions,
  encoder,
  invalidQuery,
  parseJson,
  type Query,
  recordExchange,
  SNIPPET_CHARS,
} from "./api_query_exchange.ts";
import { httpsAnswer } from "./api_query_https.ts";

/** A Patient search on a FHIR server; see the module doc. */
export async function fhirQuery(
  options: ApiQueryOptions,
  q: Query,
  signal: AbortSignal,
): Promise<ApiQueryResult> {
  const { config, log } = options;
  const https = q.destination.https!;
  const id = q.destination.id;
  const invalid = invalidQuery(q, `FHIR destination ${id}`, " (a Patient search)");
  if (invalid) return invalid;
  const searchOptions = https.fhir?.identifierSystems
    ? { identifierSystems: https.fhir.identifierSystems }
    : {};
  const url = `${https.url.replace(/\/+$/, "")}/Patient?` +
    patientSearchParams(q.request.json as Record<string, unknown>, searchOptions);
  const sent: QueryPart = {
    payload: encoder.encode(`GET ${url}`),
    contentType: "text/plain",
    messageType: "GET Patient",
  };
  const pending = options.https?.query(id, {
    method: "GET",
    url,
    headers: { accept: "application/fhir+json" },
    body: new Uint8Array(),
    contentType: "application/fhir+json",
    timeoutMs: config.limits.queryTimeoutSeconds * 1000,
    signal,
    maxBodyBytes: config.limits.maxJsonBytes,
  });
  const received = await httpsAnswer(options, q, pending, sent);
  if ("done" in received) return received.done;
  const { response, answer } = received;
  const ok = response.status >= 200 && response.status < 300;
  const parsed = parseJson(response.body);
  let read: ReturnType<typeof searchsetToQueryResponse> | undefined;
  let failure: string | undefined;
  if (!ok) {
    failure = describeFhirFailure(response) ?? describeResponse(response, SNIPPET_CHARS);
  } else if (!parsed.ok) {
    failure = `HTTP ${response.status} but the answer is not JSON`;
  } else {
    try {
      read = searchsetToQueryResponse(parsed.value, searchOptions);
    } catch (error) {
      if (!(error instanceof FhirError)) throw error;
      // A 2xx OperationOutcome (no bundle) is the server's refusal in its own words.
      failure = describeFhirFailure(response) ??
        `HTTP ${response.status}: ${error.issues.map((i) => i.text).join("; ")}`;
    }
  }
  const found = read ? (read.Patient ? 1 : read.PotentialMatches.length) : 0;
  const ids = await recordExchange(options, q, {
    status: read ? "SUCCEEDED" : "FAILED",
    reason: failure ?? `HTTP ${response.status}: searchset, ${found} patient(s)`,
    sent,
    response: answer,
  });
  log.debug("query.answered", { source: q.source.id, destination: id, fhir: true });
  if (q.request.fhir) {
    if (read === undefined || !parsed.ok) {
      return {
        ok: false,
        status: 502,
        error: `destination ${id} answered ${failure ?? "no searchset"}`,
        fhirIssues: parsed.ok ? outcomeIssuesOf(parsed.value) : [],
      };
    }
    return {
      ok: true,
      // Its id is the REQUEST log's, as `Meta.Logs` names it in the data model's answer.
      body: searchsetAnswer(parsed.value, { base: https.url, ...(ids ? { id: ids[0] } : {}) }),
      contentType: "application/fhir+json",
    };
  }
  const errors = read?.Meta.Errors ?? [];
  if (failure !== undefined) {
    errors.push({
      Text: `destination ${id} answered ${failure}`,
      Type: "destination",
      Module: "query",
    });
  }
  return {
    ok: true,
    body: {
      Patient: read?.Patient ?? null,
      PotentialMatches: read?.PotentialMatches ?? [],
      Meta: {
        ...answerMeta(q, RESPONSE_EVENT),
        ...(read?.Meta.EventDateTime ? { EventDateTime: read.Meta.EventDateTime } : {}),
        ...(ids ? { Logs: ids.map((ID) => ({ ID })) } : {}),
        Errors: errors,
      },
    },
  };
}
