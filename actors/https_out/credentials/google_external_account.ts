/**
 * Google Workload Identity Federation (`type: "external_account"` credential JSON): the subject
 * token (see google_subject_token.ts) is exchanged at the STS endpoint (`token_url`, RFC 8693:
 * `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`, `audience`, `scope`,
 * `requested_token_type=…:access_token`, `subject_token`, `subject_token_type`) for a federated
 * token; with `service_account_impersonation_url`, that token then asks IAM Credentials
 * `generateAccessToken` (`{"scope": [...], "lifetime": "3600s"}` → `{accessToken, expireTime}`)
 * for the service account's token. The final token is cached until shortly before it expires
 * (see {@link TokenCache}); a 401 from the destination drops it.
 * @module
 */

import { GOOGLE_CLOUD_PLATFORM_SCOPE } from "../../config/google_credentials.ts";
import { errorMessage } from "../../runtime/errors.ts";
import { describeResponse, HttpSendError } from "../http_client.ts";
import { readSubjectToken } from "./google_subject_token.ts";
import {
  type AuthOf,
  CredentialError,
  type CredentialStrategy,
  type StrategyDeps,
} from "./strategy.ts";
import { BearerTokenStrategy, requestToken } from "./token_grant.ts";
import { TokenCache, type TokenGrant } from "./token_cache.ts";

/** RFC 8693's grant type. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
/** RFC 8693's access token type. */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** A strategy for an `auth` of type `google-external-account`. */
export function googleExternalAccount(
  auth: AuthOf<"google-external-account">,
  deps: StrategyDeps,
  options: { env?: (name: string) => string | undefined } = {},
): CredentialStrategy {
  const account = auth.credentials;
  const cache = new TokenCache({
    clock: deps.clock,
    log: deps.log,
    destinationId: deps.destinationId,
    fetch: async (signal) => {
      const subjectToken = await readSubjectToken(account, {
        sender: deps.sender,
        timeoutMs: deps.timeoutMs,
        now: () => deps.clock.now(),
        ...(options.env ? { env: options.env } : {}),
        ...(signal ? { signal } : {}),
      });
      const impersonate = account.impersonationUrl;
      const form = new URLSearchParams({
        grant_type: TOKEN_EXCHANGE_GRANT,
        audience: account.audience,
        // Impersonation needs the IAM scope on the federated token; the final token gets the
        // configured one.
        scope: impersonate ? GOOGLE_CLOUD_PLATFORM_SCOPE : auth.scope,
        requested_token_type: ACCESS_TOKEN_TYPE,
        subject_token: subjectToken,
        subject_token_type: account.subjectTokenType,
      });
      if (account.workforcePoolUserProject && !impersonate) {
        form.set("options", JSON.stringify({ userProject: account.workforcePoolUserProject }));
      }
      let federated: TokenGrant;
      try {
        federated = await requestToken({
          sender: deps.sender,
          tokenUrl: account.tokenUrl,
          form,
          timeoutMs: deps.timeoutMs,
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        throw prefixed("Google STS token exchange", error);
      }
      if (!impersonate) return federated;
      return await generateAccessToken(impersonate, federated.accessToken, auth.scope, {
        ...deps,
        lifetimeS: account.impersonationLifetimeS,
        ...(signal ? { signal } : {}),
      });
    },
  });
  return new BearerTokenStrategy("google-external-account", cache);
}

/** IAM Credentials `generateAccessToken` with the federated token. */
async function generateAccessToken(
  url: string,
  federatedToken: string,
  scope: string,
  deps: StrategyDeps & { lifetimeS: number; signal?: AbortSignal },
): Promise<TokenGrant> {
  const where = `service account impersonation ${url}`;
  let response;
  try {
    response = await deps.sender.send({
      url,
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: `Bearer ${federatedToken}`,
      },
      body: JSON.stringify({ scope: scope.split(/\s+/), lifetime: `${deps.lifetimeS}s` }),
      timeoutMs: deps.timeoutMs,
      maxBodyBytes: 64 * 1024,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
  } catch (error) {
    const why = error instanceof HttpSendError ? error.message : errorMessage(error);
    throw new CredentialError(`${where}: ${why}`, { cause: error });
  }
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(response.body);
  } catch { /* described below */ }
  if (response.status !== 200) {
    // Google's error shape: {"error": {"code", "message", "status"}}.
    const e = json?.error as { message?: unknown; status?: unknown } | undefined;
    const said = e && typeof e.message === "string"
      ? `HTTP ${response.status}: ${String(e.status ?? "")} ${e.message.slice(0, 300)}`.trim()
      : describeResponse(response);
    throw new CredentialError(`${where} answered ${said}`, { status: response.status });
  }
  const token = json?.accessToken;
  const expireTime = typeof json?.expireTime === "string" ? Date.parse(json.expireTime) : NaN;
  if (typeof token !== "string" || token === "" || /[^\x21-\x7e]/.test(token)) {
    throw new CredentialError(`${where}: the answer has no usable accessToken`);
  }
  if (!Number.isFinite(expireTime)) {
    throw new CredentialError(`${where}: the answer has no expireTime`);
  }
  const expiresInS = Math.max(0, Math.floor((expireTime - deps.clock.now()) / 1000));
  return { accessToken: token, expiresInS };
}

function prefixed(what: string, error: unknown): unknown {
  if (!(error instanceof CredentialError)) return error;
  return new CredentialError(`${what}: ${error.message}`, {
    cause: error,
    ...(error.status !== undefined ? { status: error.status } : {}),
  });
}
