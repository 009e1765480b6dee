/**
 * What the large-JSON tests share: a data-model Media message of a chosen size (its PDF a base64
 * blob, as Redox-style clients send documents), an engine config of one API source routed to a
 * JSON and an HL7 v2 HTTP destination (and one MLLP integration, to watch ACKs), and a client
 * that posts from a Worker, so that sending the body costs the engine's thread nothing.
 * @module
 */

import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import type { DataModelMessage } from "../../../codecs/datamodel/mod.ts";
import { modelToFhir } from "../../../codecs/fhir/mod.ts";

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** A Media.New message; `blobChars` base64 characters of `FileContents` (a multiple of 4). */
export function mediaMessage(blobChars: number, patientId = "100001"): Record<string, unknown> {
  const blob = new Uint8Array(Math.floor(blobChars / 4) * 4);
  for (let i = 0; i < blob.length; i++) blob[i] = BASE64.charCodeAt((i * 7 + (i >> 10)) & 63);
  return {
    Meta: {
      DataModel: "Media",
      EventType: "New",
      EventDateTime: "2024-03-15T17:30:00.000Z",
      Test: true,
      FacilityCode: "RES",
    },
    Patient: {
      Identifiers: [{ ID: patientId, IDType: "MR" }],
      Demographics: { FirstName: "JANE", LastName: "DOE", DOB: "1980-01-01", Sex: "Female" },
    },
    Media: {
      FileType: "PDF",
      FileName: "scan",
      FileContents: new TextDecoder().decode(blob),
      DocumentType: "Scan",
      DocumentID: "b169267c-10c9-4fe3-91ae-9c1f5703e90a",
      Availability: "Available",
      Notifications: [],
    },
  };
}

/** {@link mediaMessage} as the UTF-8 JSON a client posts. */
export function mediaBody(blobChars: number, patientId?: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(JSON.stringify(mediaMessage(blobChars, patientId)));
}

/** {@link mediaMessage} as a FHIR R4 message Bundle (its PDF a DocumentReference attachment). */
export function mediaBundle(blobChars: number, patientId?: string): Record<string, unknown> {
  const message = mediaMessage(blobChars, patientId) as unknown as DataModelMessage;
  return modelToFhir(message) as unknown as Record<string, unknown>;
}

/**
 * Source `clinic` → `app` (JSON, at `/json`) and `hl7app` (HL7 v2, at `/hl7`) on `hookPort`;
 * MLLP integration `lab` (port 0) → `app`. Embedded files up to `maxEmbeddedFileBytes`.
 */
export function largeJsonConfig(
  dir: string,
  hookPort: number,
  maxEmbeddedFileBytes: number,
): Config {
  const https = (path: string) => ({
    url: `http://127.0.0.1:${hookPort}${path}`,
    verificationToken: { env: "T" },
  });
  const parsed = parseConfig({
    node: { id: "test" },
    kv: { path: `${dir}/engine.kv` },
    http: { port: 0, development: true },
    limits: { maxEmbeddedFileBytes },
    environments: [{ id: "dev", type: "development" }],
    integrations: [{ id: "lab", environment: "dev", mllp: { port: 0, allowedIps: ["127.0.0.1"] } }],
    sources: [{
      id: "clinic",
      environment: "dev",
      clientId: "clinic",
      auth: { secret: { env: "CLINIC_SECRET" } },
    }],
    destinations: [
      { id: "app", environment: "dev", https: https("/json") },
      { id: "hl7app", environment: "dev", https: https("/hl7") },
    ],
    subscriptions: [
      { from: { integration: "lab" }, to: ["app"] },
      { from: { source: "clinic" }, to: ["app"] },
      { from: { source: "clinic" }, to: ["hl7app"], format: "hl7v2" },
    ],
  }, {
    env: (n) => n === "CLINIC_SECRET" ? "clinic-secret" : "token",
    readFile: () => new Error("-"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

/** What the posting Worker is asked. */
export interface PostJob {
  url: string;
  token: string;
  blobChars: number;
  /** Post {@link mediaBundle} (to a FHIR route) instead of {@link mediaBody}. */
  fhir?: boolean;
}

/** What it answers: the response's status, content type and body. */
export interface PostAnswer {
  status: number;
  contentType: string | null;
  text: string;
}

/**
 * Posts {@link mediaBody}(`blobChars`) to `url` from a Worker (its own thread: building and
 * sending the body is not counted as the engine's thread's work).
 */
export function postFromWorker(job: PostJob): Promise<PostAnswer> {
  const worker = new Worker(new URL("./large_json_post_worker.ts", import.meta.url), {
    type: "module",
  });
  return new Promise<PostAnswer>((resolve, reject) => {
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`post worker: ${e.message}`));
    };
    worker.onmessage = (e: MessageEvent<PostAnswer | { error: string }>) => {
      if ("error" in e.data) reject(new Error(e.data.error));
      else resolve(e.data);
    };
    worker.postMessage(job);
  }).finally(() => worker.terminate());
}

/** A hook recording each body it is posted, by path. */
export function startHook(): {
  bodies: { path: string; text: string }[];
  server: Deno.HttpServer<Deno.NetAddr>;
  port: number;
} {
  const bodies: { path: string; text: string }[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    bodies.push({ path: new URL(req.url).pathname, text: await req.text() });
    return new Response("ok");
  });
  return { bodies, server, port: server.addr.port };
}
