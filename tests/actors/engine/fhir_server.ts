/**
 * A FHIR R4 server test peer, over real HTTPS behind SMART Backend Services (the token endpoint
 * of auth_server.ts checks the client assertion against the client's JWKS). Under
 * `/api/fhir/R4` it answers like a FHIR server: `GET metadata` (a CapabilityStatement),
 * `POST $process-message` (a message Bundle: 200 with a response message, or 422 with an
 * OperationOutcome), `POST` of a transaction Bundle (each entry `PUT`, conditional by identifier:
 * created once, updated after), and `GET Patient?identifier=…&family=…&given=…&birthdate=…`
 * (a searchset). Every resource it is given is validated with `@medplum/core`'s
 * `validateResource` against the R4 definitions; an invalid one is refused with the validator's
 * OperationOutcome, as a server would.
 * @module
 */

import { OperationOutcomeError, validateResource } from "@medplum/core";
import type { Resource } from "@medplum/fhirtypes";
import { exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { JWT_CLIENT_ASSERTION } from "../../../actors/https_out/mod.ts";
import { loadDefinitions } from "../../../codecs/fhir/validate.ts";
import type { TestPki } from "../../helpers/tls.ts";
import { checkAssertion } from "../https_out/fixtures/assertions.ts";
import { type AuthServer, startAuthServer } from "../https_out/fixtures/auth_server.ts";
import type { Received } from "../https_out/fixtures/server.ts";

/** The FHIR base path on the peer (under `/api/`, which needs a token). */
export const FHIR_BASE_PATH = "/api/fhir/R4";
/** The SMART client id the peer knows. */
export const SMART_CLIENT_ID = "engine-backend";
/** The scope the peer grants. */
export const SMART_SCOPE = "system/*.write system/Patient.read";

// deno-lint-ignore no-explicit-any -- the peer reads deep into the JSON it received
type Json = Record<string, any>;

/** A running FHIR server peer. */
export interface FhirServer extends AuthServer {
  /** `https://127.0.0.1:<port>/api/fhir/R4`. */
  readonly base: string;
  /** The client's private key (PKCS#8 PEM) and key id, for the engine's config. */
  readonly privateKey: string;
  readonly keyId: string;
  /** Message bundles accepted by `$process-message`. */
  readonly messages: Json[];
  /** Transaction bundles accepted. */
  readonly transactions: Json[];
  /** Stored resources by `Type/id`. */
  readonly resources: Map<string, Json>;
  /** Answers of refused requests (OperationOutcomes), in order. */
  readonly refusals: Json[];
}

/** An OperationOutcome answer. */
function outcome(status: number, issue: Json[]): Response {
  return new Response(JSON.stringify({ resourceType: "OperationOutcome", issue }), {
    status,
    headers: { "content-type": "application/fhir+json" },
  });
}

function fhirJson(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/fhir+json" },
  });
}

/** The validator's issues for every resource of a bundle (errors only), located in it. */
function invalid(bundle: Json): Json[] {
  const issues: Json[] = [];
  const check = (resource: Json, at: string) => {
    try {
      const found = validateResource(resource as Resource);
      for (const i of found) {
        if (i.severity === "error" || i.severity === "fatal") issues.push({ ...i, location: [at] });
      }
    } catch (error) {
      if (!(error instanceof OperationOutcomeError)) throw error;
      for (const i of error.outcome.issue ?? []) issues.push({ ...i, location: [at] });
    }
  };
  check(bundle, "Bundle");
  (bundle.entry ?? []).forEach((e: Json, i: number) => {
    if (e?.resource) check(e.resource, `Bundle.entry[${i}].resource`);
  });
  return issues;
}

/** How the peer misbehaves, on purpose. */
export interface FhirServerOptions {
  /** A Patient with this identifier value is refused (`422`, `business-rule`). */
  refuseIdentifier?: string;
  /** A search with this `identifier` token is answered `status` with an OperationOutcome. */
  failSearch?: { identifier: string; status: number };
  /** A search with this `identifier` token is not answered until the peer closes. */
  hangSearchIdentifier?: string;
  /**
   * A search with this `family` is answered with its matches and, last, an OperationOutcome
   * entry (`search.mode` `outcome`) whose warning says `diagnostics`.
   */
  searchWarning?: { family: string; diagnostics: string };
}

/**
 * Starts the peer on HTTPS with `pki`. A Patient with an identifier value `refuseIdentifier`
 * is refused with `422` and an OperationOutcome (`business-rule`), as a server enforcing its
 * own rules would; searches fail or hang as `options` say.
 */
export async function startFhirServer(
  pki: TestPki,
  options: FhirServerOptions = {},
): Promise<FhirServer> {
  loadDefinitions();
  const keyPair = await generateKeyPair("ES384", { extractable: true });
  const keyId = "fhir-client-2026";
  const jwks = { keys: [{ ...(await exportJWK(keyPair.publicKey)), kid: keyId, alg: "ES384" }] };
  const seenJti = new Set<string>();
  const messages: Json[] = [];
  const transactions: Json[] = [];
  const resources = new Map<string, Json>();
  const refusals: Json[] = [];
  const refuse = (status: number, issue: Json[]) => {
    refusals.push({ status, issue });
    return outcome(status, issue);
  };

  // Searches held unanswered (hangSearchIdentifier), answered when the peer closes.
  const hung: (() => void)[] = [];
  const handle = (req: Received): Response | Promise<Response> => {
    const path = req.path.slice(FHIR_BASE_PATH.length);
    if (req.method === "GET" && path === "/metadata") {
      return fhirJson({
        resourceType: "CapabilityStatement",
        status: "active",
        date: "2026-01-01",
        kind: "instance",
        fhirVersion: "4.0.1",
        format: ["application/fhir+json"],
      });
    }
    if (req.method === "GET" && path.startsWith("/Patient?")) {
      const params = new URLSearchParams(path.slice("/Patient?".length));
      const ids = params.getAll("identifier");
      if (options.failSearch && ids.includes(options.failSearch.identifier)) {
        return refuse(options.failSearch.status, [{
          severity: "error",
          code: "exception",
          diagnostics: "the patient index is offline",
        }]);
      }
      if (options.hangSearchIdentifier && ids.includes(options.hangSearchIdentifier)) {
        return new Promise((resolve) => hung.push(() => resolve(outcome(503, []))));
      }
      const found = [...resources.values()].filter((r) =>
        r.resourceType === "Patient" && matchesSearch(r, params)
      );
      const warning = options.searchWarning?.family === params.get("family")
        ? [{
          resource: {
            resourceType: "OperationOutcome",
            issue: [{
              severity: "warning",
              code: "informational",
              diagnostics: options.searchWarning!.diagnostics,
            }],
          },
          search: { mode: "outcome" },
        }]
        : [];
      return fhirJson({
        resourceType: "Bundle",
        type: "searchset",
        timestamp: "2026-12-04T10:00:00Z",
        total: found.length,
        entry: [
          ...found.map((resource) => ({
            fullUrl: `${FHIR_BASE_PATH}/Patient/${resource.id}`,
            resource,
            search: { mode: "match" },
          })),
          ...warning,
        ],
      });
    }
    if (req.method !== "POST") return refuse(405, [{ severity: "error", code: "not-supported" }]);
    if (!(req.headers.get("content-type") ?? "").startsWith("application/fhir+json")) {
      return refuse(415, [{
        severity: "error",
        code: "not-supported",
        diagnostics: `content type ${req.headers.get("content-type")} is not application/fhir+json`,
      }]);
    }
    let bundle: Json;
    try {
      bundle = JSON.parse(req.text);
    } catch {
      return refuse(400, [{ severity: "error", code: "structure", diagnostics: "not JSON" }]);
    }
    const issues = invalid(bundle);
    if (issues.length > 0) return refuse(400, issues);
    const entries: Json[] = bundle.entry ?? [];
    const rejected = entries.findIndex((e) =>
      e.resource?.resourceType === "Patient" &&
      e.resource.identifier?.some((i: Json) => i.value === options.refuseIdentifier)
    );
    if (options.refuseIdentifier !== undefined && rejected >= 0) {
      return refuse(422, [{
        severity: "error",
        code: "business-rule",
        diagnostics: `patient ${options.refuseIdentifier} is on hold`,
        expression: [`Bundle.entry[${rejected}].resource.identifier`],
      }]);
    }
    if (path === "/$process-message") {
      if (bundle.type !== "message" || entries[0]?.resource?.resourceType !== "MessageHeader") {
        return refuse(400, [{ severity: "error", code: "invalid", diagnostics: "not a message" }]);
      }
      messages.push(bundle);
      const header = entries[0].resource;
      return fhirJson({
        resourceType: "Bundle",
        type: "message",
        timestamp: new Date().toISOString(),
        entry: [{
          resource: {
            resourceType: "MessageHeader",
            eventCoding: header.eventCoding,
            source: { endpoint: "urn:test:fhir-server" },
            response: { identifier: bundle.id ?? header.id, code: "ok" },
          },
        }],
      });
    }
    if (path === "" || path === "/") {
      if (bundle.type !== "transaction") {
        return refuse(400, [{
          severity: "error",
          code: "invalid",
          diagnostics: "not a transaction",
        }]);
      }
      transactions.push(bundle);
      const response = entries.map((e) => ({ response: putResource(resources, e) }));
      return fhirJson({ resourceType: "Bundle", type: "transaction-response", entry: response });
    }
    return refuse(404, [{ severity: "error", code: "not-found", diagnostics: path }]);
  };

  const server = startAuthServer({
    pki,
    checkTokenRequest: async (req, form, tokenUrl) => {
      if (form.get("client_assertion_type") !== JWT_CLIENT_ASSERTION) {
        return { ok: false, error: "invalid_client", description: "client_assertion_type" };
      }
      if (req.headers.has("authorization")) {
        return { ok: false, error: "invalid_request", description: "two authentications" };
      }
      const verdict = await checkAssertion(form.get("client_assertion"), {
        key: jwks,
        algorithms: ["ES384"],
        issuer: SMART_CLIENT_ID,
        subject: SMART_CLIENT_ID,
        audience: tokenUrl,
        seenJti,
      }, "invalid_client");
      return verdict.ok
        ? { ok: true, clientId: SMART_CLIENT_ID, scope: form.get("scope") ?? "" }
        : verdict;
    },
    onResource: (req) =>
      req.path.startsWith(FHIR_BASE_PATH)
        ? handle(req)
        : outcome(404, [{ severity: "error", code: "not-found" }]),
  });
  const close = server.close.bind(server);
  return Object.assign(server, {
    close: async () => {
      for (const release of hung.splice(0)) release();
      await close();
    },
    base: `${server.origin}${FHIR_BASE_PATH}`,
    privateKey: await exportPKCS8(keyPair.privateKey),
    keyId,
    messages,
    transactions,
    resources,
    refusals,
  });
}

/**
 * Whether `patient` matches a search, as a FHIR server reads the parameters: `identifier`
 * tokens (`system|value`, or a value in any system), `family` and `given` (case-insensitive
 * prefix), `birthdate` and `gender` (exact); every parameter must match.
 */
function matchesSearch(patient: Json, params: URLSearchParams): boolean {
  const names: Json[] = patient.name ?? [];
  const prefix = (values: unknown[], wanted: string) =>
    values.some((v) => typeof v === "string" && v.toLowerCase().startsWith(wanted.toLowerCase()));
  for (const [key, value] of params) {
    let ok = false;
    if (key === "identifier") {
      const bar = value.indexOf("|");
      const system = bar >= 0 ? value.slice(0, bar) : undefined;
      const v = bar >= 0 ? value.slice(bar + 1) : value;
      ok = (patient.identifier ?? []).some((i: Json) =>
        i.value === v && (system === undefined || i.system === system)
      );
    } else if (key === "family") ok = prefix(names.map((n) => n.family), value);
    else if (key === "given") ok = prefix(names.flatMap((n) => n.given ?? []), value);
    else if (key === "birthdate") ok = patient.birthDate === value;
    else if (key === "gender") ok = patient.gender === value;
    if (!ok) return false;
  }
  return true;
}

/** A transaction entry's `PUT`: conditional (`Type?identifier=s|v`) or by id. */
function putResource(resources: Map<string, Json>, entry: Json): Json {
  const url: string = entry.request?.url ?? "";
  const resource = { ...entry.resource };
  const q = url.indexOf("?");
  if (q >= 0) {
    const token = new URLSearchParams(url.slice(q + 1)).get("identifier") ?? "";
    const [system, value] = token.split("|");
    const match = [...resources.values()].find((r) =>
      r.resourceType === resource.resourceType &&
      r.identifier?.some((i: Json) => i.system === system && i.value === value)
    );
    resource.id = match?.id ?? crypto.randomUUID();
    resources.set(`${resource.resourceType}/${resource.id}`, resource);
    return { status: match ? "200 OK" : "201 Created" };
  }
  const existed = resources.has(url);
  resources.set(url, { ...resource, id: url.split("/")[1] });
  return { status: existed ? "200 OK" : "201 Created" };
}
