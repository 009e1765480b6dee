/**
 * The subject token of a Workload Identity Federation credential, read the way Google's
 * `credential_source` describes: a file (rewritten by the platform, so read at every exchange), a
 * URL (a metadata server), or an executable (only when `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES`
 * is `1`, as Google's libraries require), each `text` or one field of a `json` object. An
 * executable gets Google's `GOOGLE_EXTERNAL_ACCOUNT_*` variables and answers Google's executable
 * response JSON; an unexpired response in its `output_file` is used without running it.
 * @module
 */

import type { GoogleExternalAccount, GoogleTokenFormat } from "../../config/google_credentials.ts";
import { errorMessage } from "../../runtime/errors.ts";
import { describeResponse, type HttpSender, HttpSendError } from "../http_client.ts";
import { CredentialError } from "./strategy.ts";

/** What reading a subject token needs besides the credential. */
export interface SubjectDeps {
  sender: HttpSender;
  timeoutMs: number;
  /** Milliseconds since the epoch (an executable's `expiration_time` is checked against it). */
  now(): number;
  /** Environment variables (the allow switch); `Deno.env.get` by default. */
  env?: (name: string) => string | undefined;
  signal?: AbortSignal;
}

/** The switch Google's libraries require before they run a credential executable. */
export const ALLOW_EXECUTABLES = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES";
/** Largest subject token source read. */
const MAX_SOURCE_BYTES = 64 * 1024;

/** Reads the subject token; rejects with a {@link CredentialError} naming the source. */
export async function readSubjectToken(
  account: GoogleExternalAccount,
  deps: SubjectDeps,
): Promise<string> {
  const s = account.subject;
  if (s.kind === "file") {
    let text: string;
    try {
      text = await Deno.readTextFile(s.file);
    } catch (error) {
      throw new CredentialError(
        `subject token file ${s.file}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    return pick(text, s.format, `subject token file ${s.file}`);
  }
  if (s.kind === "url") {
    const where = `subject token URL ${s.url}`;
    let response;
    try {
      response = await deps.sender.send({
        url: s.url,
        method: "GET",
        headers: lower(s.headers),
        timeoutMs: deps.timeoutMs,
        maxBodyBytes: MAX_SOURCE_BYTES,
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
    } catch (error) {
      const why = error instanceof HttpSendError ? error.message : errorMessage(error);
      throw new CredentialError(`${where}: ${why}`, { cause: error });
    }
    if (response.status !== 200) {
      throw new CredentialError(`${where} answered ${describeResponse(response)}`);
    }
    return pick(response.body, s.format, where);
  }
  return await runExecutable(account, s, deps);
}

async function runExecutable(
  account: GoogleExternalAccount,
  s: Extract<GoogleExternalAccount["subject"], { kind: "executable" }>,
  deps: SubjectDeps,
): Promise<string> {
  const env = deps.env ?? ((name: string) => Deno.env.get(name));
  const where = `subject token executable ${JSON.stringify(s.command)}`;
  if (env(ALLOW_EXECUTABLES) !== "1") {
    throw new CredentialError(
      `${where} is not run: set ${ALLOW_EXECUTABLES}=1 in the engine's environment to allow it`,
    );
  }
  if (s.outputFile) {
    // A response the executable cached that is still valid saves a run.
    const cached = await Deno.readTextFile(s.outputFile).catch(() => undefined);
    if (cached) {
      const token = executableToken(cached, account, deps.now(), `${where} output_file`, true);
      if (token) return token;
    }
  }
  const [program, ...args] = s.command.trim().split(/\s+/);
  const child = new Deno.Command(program!, {
    args,
    env: {
      GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE: account.audience,
      GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE: account.subjectTokenType,
      GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE: "0",
      ...(account.impersonationUrl
        ? {
          GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL: impersonatedEmail(account.impersonationUrl),
        }
        : {}),
      ...(s.outputFile ? { GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE: s.outputFile } : {}),
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  let process: Deno.ChildProcess;
  try {
    process = child.spawn();
  } catch (error) {
    throw new CredentialError(`${where} cannot be run: ${errorMessage(error)}`, { cause: error });
  }
  const timer = setTimeout(() => {
    try {
      process.kill("SIGKILL");
    } catch { /* already exited */ }
  }, s.timeoutMs);
  let output: Deno.CommandOutput;
  try {
    output = await process.output();
  } finally {
    clearTimeout(timer);
  }
  const stdout = new TextDecoder().decode(output.stdout);
  if (output.signal === "SIGKILL") {
    throw new CredentialError(`${where} did not finish within ${s.timeoutMs} ms`);
  }
  if (!output.success && !stdout.trim()) {
    const stderr = new TextDecoder().decode(output.stderr).trim().slice(0, 200);
    throw new CredentialError(`${where} exited with ${output.code}${stderr ? `: ${stderr}` : ""}`);
  }
  return executableToken(stdout, account, deps.now(), where, false)!;
}

/**
 * The token of an executable response (Google's version 1 JSON); undefined for an expired cached
 * one (`cached`), otherwise a {@link CredentialError} for anything unusable.
 */
function executableToken(
  text: string,
  account: GoogleExternalAccount,
  now: number,
  where: string,
  cached: boolean,
): string | undefined {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    if (cached) return undefined;
    throw new CredentialError(`${where} did not print a JSON response`);
  }
  if (json.version !== 1) {
    throw new CredentialError(`${where}: response version ${JSON.stringify(json.version)} ≠ 1`);
  }
  if (json.success !== true) {
    const code = typeof json.code === "string" ? json.code : "?";
    const message = typeof json.message === "string" ? json.message.slice(0, 200) : "";
    if (cached) return undefined;
    throw new CredentialError(`${where} failed: ${code}: ${message}`);
  }
  const expires = json.expiration_time;
  if (typeof expires === "number" && expires * 1000 <= now) {
    if (cached) return undefined;
    throw new CredentialError(`${where}: the token it printed has expired`);
  }
  if (cached && typeof expires !== "number") return undefined;
  if (json.token_type !== account.subjectTokenType) {
    throw new CredentialError(
      `${where}: token_type ${JSON.stringify(json.token_type)} is not the configured ` +
        `subject_token_type ${account.subjectTokenType}`,
    );
  }
  const token = String(json.token_type).endsWith(":saml2") ? json.saml_response : json.id_token;
  if (typeof token !== "string" || token === "") {
    throw new CredentialError(`${where}: the response has no id_token or saml_response`);
  }
  return token;
}

/** The text token, or the named field of a JSON one. */
function pick(text: string, format: GoogleTokenFormat, where: string): string {
  if (format.type === "text") {
    const token = text.trim();
    if (!token) throw new CredentialError(`${where} is empty`);
    return token;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CredentialError(`${where} is not JSON (format "json")`);
  }
  const value = (json as Record<string, unknown> | null)?.[format.field];
  if (typeof value !== "string" || value === "") {
    throw new CredentialError(`${where} has no string field ${JSON.stringify(format.field)}`);
  }
  return value;
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** `sa@project.iam.gserviceaccount.com` out of `…/serviceAccounts/<email>:generateAccessToken`. */
export function impersonatedEmail(url: string): string {
  const m = /serviceAccounts\/([^/:]+):generateAccessToken/.exec(url);
  return m ? decodeURIComponent(m[1]!) : "";
}
