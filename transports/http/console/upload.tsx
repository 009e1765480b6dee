/** @jsxImportSource hono/jsx */
// deno-lint-ignore-file jsx-key -- server-rendered once, never diffed: keys serve nothing
/**
 * `/console/upload`: an operator hands the engine a file (X12, C-CDA, HL7v2 batch or any other)
 * for a file-fed integration, the way the SFTP folders would: the engine's file intake splits,
 * stores, routes and acknowledges it, and the page shows what became of it with the 999 / TA1.
 *
 * The form posts `multipart/form-data` (fields `_csrf`, `integration`, `reason`, `file`); a
 * script may instead post the raw bytes with `X-CSRF-Token` and `?integration=…&name=…`. The
 * request body is capped before it is read ({@link uploadBodyLimit}). The form is read by the
 * console's own multipart reader (`multipart.ts`: a file name holding `=`, `;` or `\"` comes out
 * whole, `filename*` is preferred, a path is dropped). A file that holds nothing of the format
 * its name or first bytes promise (an empty file, PNG bytes named `.hl7`, text with no MSH line)
 * is refused, 400 when empty, else 422, saying what was found (`upload_content.ts`); logged as
 * `console.upload-refused` and audited, nothing stored. Nothing of the file is rendered but its
 * sanitised name, the acknowledgment and, in a refusal, at most its first four bytes in hex, all
 * as escaped text.
 * @module
 */

import type { Context, Hono, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Config } from "../../../actors/ports.ts";
import { peerIp } from "../peer.ts";
import { writeAudit } from "./audit.ts";
import type { ConsoleDeps, ConsoleEnv, ConsoleFileIntake, UploadOutcome } from "./context.ts";
import { Csrf, Page } from "./layout.tsx";
import { requireRole } from "./roles.ts";
import { allows } from "./users.ts";
import { readForm } from "./security.ts";
import { missingContent } from "./upload_content.ts";

/** Room for the multipart envelope and the small fields around the file. */
const FORM_OVERHEAD = 64 * 1024;

/**
 * Refuses an upload whose body is larger than the file limit allows (413), before the CSRF check
 * or anything else reads it; mounted ahead of the console's session and CSRF middleware.
 */
export function uploadBodyLimit(files: ConsoleFileIntake | undefined): MiddlewareHandler {
  return bodyLimit({
    maxSize: (files?.maxBytes ?? 0) + FORM_OVERHEAD,
    onError: (c) =>
      c.text(`refused: the upload is over the limit of ${files?.maxBytes ?? 0} bytes`, 413),
  });
}

/** Integrations whose inbound queue is file-fed (an MLLP integration's queue is its socket's). */
function fileIntegrations(config: Pick<Config, "integrations">): Config["integrations"] {
  return config.integrations.filter((i) => !i.mllp);
}

/** The last path segment, printable ASCII letters, digits, `.`, `-`, `_` only, at most 128. */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const clean = base.replace(/[^\w.\-]+/g, "_").replace(/^\.+/, "").slice(0, 128);
  return clean === "" ? "upload" : clean;
}

/** An X12 interchange with a line break after each segment terminator, to read on the page. */
function readable(text: string): string {
  if (!text.startsWith("ISA") || text.length < 106) return text;
  const terminator = text[105]!;
  if (/[\r\n]/.test(text[106] ?? "")) return text;
  return text.split(terminator).join(`${terminator}\n`);
}

/** Adds the upload page and its POST. */
export function uploadRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  app.get("/console/upload", (c) => c.html(page(c, deps)));

  app.post("/console/upload", requireRole("operator"), async (c) => {
    const who = c.var.session.principal;
    const files = deps.files;
    const type = c.req.header("content-type") ?? "";
    let integrationId: string;
    let name: string;
    let reason = "";
    let bytes: Uint8Array | undefined;
    // Media types are case-insensitive, but the form reader takes `multipart/form-data` as
    // written only: any other spelling of a form is refused below, not stored as the file.
    const media = type.split(";")[0]!.trim().toLowerCase();
    const formType = media.startsWith("multipart/") ||
      media === "application/x-www-form-urlencoded";
    if (type.startsWith("multipart/form-data")) {
      const form = await readForm(c);
      if (!form) return c.text("refused: the form could not be read (not a valid form body)", 400);
      integrationId = typeof form["integration"] === "string" ? form["integration"] : "";
      reason = typeof form["reason"] === "string" ? form["reason"] : "";
      const file = form["file"];
      name = file instanceof File ? file.name : "";
      bytes = file instanceof File ? new Uint8Array(await file.arrayBuffer()) : undefined;
    } else {
      integrationId = c.req.query("integration") ?? "";
      name = c.req.query("name") ?? "";
      reason = c.req.query("reason") ?? "";
      bytes = new Uint8Array(await c.req.arrayBuffer());
    }
    integrationId = integrationId.slice(0, 128);
    const fileName = safeFileName(name);
    const integration = fileIntegrations(deps.config).find((i) => i.id === integrationId);
    const refuse = async (status: 400 | 404 | 413 | 415 | 422 | 503, message: string) => {
      await writeAudit(deps, who, {
        action: "upload",
        target: `integration:${integrationId}`,
        reason,
        address: peerIp(c),
        via: "console",
        ok: false,
        message: message.startsWith(`${fileName} `) ? message : `${fileName}: ${message}`,
      });
      return c.html(page(c, deps, { error: message }), status);
    };
    if (!files) return await refuse(503, "this engine takes no file uploads");
    if (formType && !type.startsWith("multipart/form-data")) {
      return await refuse(
        415,
        `Content-Type ${JSON.stringify(type.slice(0, 100))} is a form the upload does not read: ` +
          `send the form as "multipart/form-data" (in lower case), or the file's own bytes ` +
          `with ?integration= and &name=`,
      );
    }
    if (!integration) {
      return await refuse(404, `no file-fed integration ${integrationId} (MLLP ones take none)`);
    }
    if (!bytes) return await refuse(400, "no file in the form (its field is `file`)");
    // A file that holds nothing the intake can take (empty, or not the format its name or first
    // bytes promise): the intake would answer "0 messages", or store it whole under that format.
    // The uploader is told what was found, the operator's log says so too.
    const refuseContent = async (status: 400 | 422, reason: string) => {
      deps.log.warn("console.upload-refused", {
        integration: integration.id,
        file: fileName,
        user: who.name,
        remote: peerIp(c),
        reason,
      });
      return await refuse(status, `${reason}: nothing stored`);
    };
    if (bytes.length === 0) return await refuseContent(400, `${fileName} is empty (0 bytes)`);
    if (bytes.length > files.maxBytes) {
      return await refuse(413, `${bytes.length} bytes is over the limit of ${files.maxBytes}`);
    }
    const missing = missingContent(fileName, bytes);
    if (missing) return await refuseContent(422, missing);
    let outcome: UploadOutcome;
    try {
      outcome = await files.ingest({
        integration: { id: integration.id, environment: integration.environment },
        fileName,
        bytes,
        peer: `console:${who.name}@${peerIp(c)}`,
      });
    } catch (error) {
      deps.log.error("console.upload-failed", {
        integration: integration.id,
        file: fileName,
        error,
      });
      return await refuse(503, "not stored: the store failed (logged); upload it again");
    }
    const ack = outcome.acknowledgment;
    await writeAudit(deps, who, {
      action: "upload",
      target: `integration:${integration.id}`,
      reason,
      address: peerIp(c),
      via: "console",
      ok: true,
      message: `${fileName} (${outcome.contentType}, sha256 ${outcome.sha256}): ` +
        `${outcome.messages} messages, ${outcome.stored} stored, ` +
        `${outcome.duplicates} duplicates${ack ? `; answered with ${ack.fileName}` : ""}`,
    });
    return c.html(page(c, deps, { fileName, integration: integration.id, outcome }));
  });
}

/** What the page shows after a POST. */
interface Shown {
  error?: string;
  fileName?: string;
  integration?: string;
  outcome?: UploadOutcome;
}

function page(c: Context<ConsoleEnv>, deps: ConsoleDeps, shown: Shown = {}) {
  const session = c.var.session;
  const targets = fileIntegrations(deps.config);
  const operator = allows(session.principal.role, "operator");
  const o = shown.outcome;
  const ack = o?.acknowledgment;
  return (
    <Page title="Upload" active="/console/upload" session={session}>
      <h1>Upload a file</h1>
      {shown.error ? <p class="error" role="alert">{shown.error}</p> : null}
      {o
        ? (
          <section data-upload-result>
            <h2>{shown.fileName} → {shown.integration}</h2>
            <table>
              <tbody>
                <tr>
                  <th>Type</th>
                  <td>{o.contentType}</td>
                </tr>
                <tr>
                  <th>SHA-256</th>
                  <td>{o.sha256}</td>
                </tr>
                <tr>
                  <th>Messages</th>
                  <td>
                    {o.messages} ({o.stored} stored, {o.duplicates} already stored)
                  </td>
                </tr>
              </tbody>
            </table>
            <p>
              <a
                href={`/console/logs?integration=${encodeURIComponent(shown.integration ?? "")}`}
              >
                Logs of {shown.integration}
              </a>
            </p>
            {ack
              ? (
                <>
                  <h3>Acknowledgment {ack.fileName}</h3>
                  <pre
                    data-acknowledgment
                  >{readable(new TextDecoder("latin1").decode(ack.bytes))}</pre>
                </>
              )
              : <p>No acknowledgment (the integration's x12.acknowledge is off, or not X12).</p>}
          </section>
        )
        : null}
      {!operator
        ? <p>Uploading needs the operator role.</p>
        : targets.length === 0
        ? <p>No file-fed integration: MLLP integrations take no uploads.</p>
        : (
          <form method="post" action="/console/upload" enctype="multipart/form-data">
            <Csrf session={session} />
            <label>
              Integration{" "}
              <select name="integration" required>
                {targets.map((i) => <option value={i.id}>{i.id}</option>)}
              </select>
            </label>{" "}
            <label>
              File <input type="file" name="file" required />
            </label>{" "}
            <label>
              Reason <input type="text" name="reason" maxlength={1000} />
            </label>{" "}
            <button type="submit">Upload</button>
            <p>
              Up to {deps.files?.maxBytes ?? 0}{" "}
              bytes. Taken in as if it came over SFTP: an HL7 batch is split per message, X12 per
              transaction set, anything else (C-CDA…) travels whole. A file that holds no message of
              the kind its name or first bytes promise (.hl7, .x12, .xml) is refused.
            </p>
          </form>
        )}
    </Page>
  );
}
