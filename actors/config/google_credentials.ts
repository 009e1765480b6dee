/**
 * Google's credential JSON files, accepted unchanged: a service-account key (`service_account`,
 * as `gcloud iam service-accounts keys create` writes it) and a Workload Identity Federation
 * configuration (`external_account`, as `gcloud iam workload-identity-pools create-cred-config`
 * writes it). The file is referenced like any secret (`{"file": "…"}` or `{"env": "…"}`), read
 * and checked while the config is parsed, so a wrong file is a config error at its JSON path.
 * Unknown fields (`universe_domain`, `quota_project_id`…) are allowed and ignored.
 * @module
 */

import { z } from "zod";
import { Secret } from "./secret.ts";

/** The scope asked for when the config names none. */
export const GOOGLE_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/** A service-account key, as the JWT bearer strategy uses it. */
export interface GoogleServiceAccountKey {
  type: "service_account";
  clientEmail: string;
  /** PKCS#8 PEM, as Google writes it. */
  privateKey: Secret;
  privateKeyId: string;
  /** Where assertions are exchanged (`https://oauth2.googleapis.com/token`). */
  tokenUri: string;
  /** Where the JSON came from (`file:…`), for messages. */
  source: string;
}

/** Where the subject token of an external account comes from. */
export type GoogleSubjectSource =
  | { kind: "file"; file: string; format: GoogleTokenFormat }
  | { kind: "url"; url: string; headers: Record<string, string>; format: GoogleTokenFormat }
  | { kind: "executable"; command: string; timeoutMs: number; outputFile?: string };

/** How a subject token file or URL answer is read: as text, or one field of a JSON object. */
export type GoogleTokenFormat = { type: "text" } | { type: "json"; field: string };

/** A Workload Identity Federation configuration. */
export interface GoogleExternalAccount {
  type: "external_account";
  /** The workload identity pool provider (`//iam.googleapis.com/projects/…/providers/…`). */
  audience: string;
  /** `urn:ietf:params:oauth:token-type:jwt`, `…:id_token`, `…:saml2`… */
  subjectTokenType: string;
  /** The STS endpoint (`https://sts.googleapis.com/v1/token`). */
  tokenUrl: string;
  /** `…:generateAccessToken` of the service account to impersonate, when there is one. */
  impersonationUrl?: string;
  /** Lifetime asked of impersonated tokens, default 3600 s. */
  impersonationLifetimeS: number;
  /** Workforce pools only: the project billed (`options.userProject` of the STS request). */
  workforcePoolUserProject?: string;
  subject: GoogleSubjectSource;
  source: string;
}

const url = z.url({ protocol: /^https?$/ });

const format = z.looseObject({
  type: z.enum(["text", "json"]).default("text"),
  subject_token_field_name: z.string().min(1).optional(),
}).refine((f) => f.type === "text" || f.subject_token_field_name !== undefined, {
  message: 'format "json" needs subject_token_field_name',
}).optional();

const serviceAccount = z.looseObject({
  type: z.literal("service_account"),
  client_email: z.string().min(1),
  private_key: z.string().includes("PRIVATE KEY", { message: "expected a PEM private key" }),
  private_key_id: z.string().min(1),
  token_uri: url.default("https://oauth2.googleapis.com/token"),
});

const externalAccount = z.looseObject({
  type: z.literal("external_account"),
  audience: z.string().min(1),
  subject_token_type: z.string().min(1),
  token_url: url.default("https://sts.googleapis.com/v1/token"),
  service_account_impersonation_url: url.optional(),
  service_account_impersonation: z.looseObject({
    token_lifetime_seconds: z.number().int().min(600).max(43200).optional(),
  }).optional(),
  workforce_pool_user_project: z.string().min(1).optional(),
  credential_source: z.looseObject({
    file: z.string().min(1).optional(),
    url: url.optional(),
    headers: z.record(z.string(), z.string()).optional(),
    executable: z.looseObject({
      command: z.string().min(1),
      timeout_millis: z.number().int().min(5000, {
        error: "at least 5000 ms: Google's minimum for an executable source's timeout",
      }).max(120_000).default(30_000),
      output_file: z.string().min(1).optional(),
    }).optional(),
    environment_id: z.string().optional(),
    format,
  }).refine(
    (c) => [c.file, c.url, c.executable].filter((x) => x !== undefined).length === 1,
    {
      message: 'credential_source needs exactly one of "file", "url" or "executable" ' +
        "(AWS and X.509 sources are not supported)",
    },
  ),
});

type Kind = "service_account" | "external_account";

/** A secret holding a service-account key JSON, parsed (`secret`: the config's secret schema). */
// deno-lint-ignore explicit-module-boundary-types
export function googleServiceAccountJson<S extends z.ZodType<Secret>>(secret: S) {
  return secret.transform((s, ctx) => {
    const parsed = parseGoogleCredentials(s, "service_account");
    if (typeof parsed !== "string") return parsed as GoogleServiceAccountKey;
    ctx.issues.push({ code: "custom", input: s.source, message: parsed });
    return z.NEVER;
  });
}

/** A secret holding an external-account JSON, parsed (`secret`: the config's secret schema). */
// deno-lint-ignore explicit-module-boundary-types
export function googleExternalAccountJson<S extends z.ZodType<Secret>>(secret: S) {
  return secret.transform((s, ctx) => {
    const parsed = parseGoogleCredentials(s, "external_account");
    if (typeof parsed !== "string") return parsed as GoogleExternalAccount;
    ctx.issues.push({ code: "custom", input: s.source, message: parsed });
    return z.NEVER;
  });
}

/** The credentials in `secret`, or a sentence saying what is wrong with them. */
export function parseGoogleCredentials(
  secret: Secret,
  kind: Kind,
): GoogleServiceAccountKey | GoogleExternalAccount | string {
  const where = `Google credentials (${secret.source})`;
  let json: unknown;
  try {
    json = JSON.parse(secret.reveal());
  } catch (error) {
    return `${where} are not JSON: ${(error as Error).message}`;
  }
  const type = (json as { type?: unknown } | null)?.type;
  if (type !== kind) {
    return `${where} have "type": ${JSON.stringify(type)}; expected "${kind}"`;
  }
  const schema = kind === "service_account" ? serviceAccount : externalAccount;
  const result = schema.safeParse(json);
  if (!result.success) {
    // Never the value: a key file's fields are secrets.
    const issue = result.error.issues[0]!;
    return `${where}: ${issue.path.join(".") || "(top)"}: ${issue.message}`;
  }
  if (kind === "service_account") {
    const k = result.data as z.output<typeof serviceAccount>;
    return {
      type: "service_account",
      clientEmail: k.client_email,
      privateKey: new Secret(k.private_key, `${secret.source}#private_key`),
      privateKeyId: k.private_key_id,
      tokenUri: k.token_uri,
      source: secret.source,
    };
  }
  const e = result.data as z.output<typeof externalAccount>;
  const c = e.credential_source;
  const fmt: GoogleTokenFormat = c.format?.type === "json"
    ? { type: "json", field: c.format.subject_token_field_name! }
    : { type: "text" };
  const subject: GoogleSubjectSource = c.file !== undefined
    ? { kind: "file", file: c.file, format: fmt }
    : c.url !== undefined
    ? { kind: "url", url: c.url, headers: c.headers ?? {}, format: fmt }
    : {
      kind: "executable",
      command: c.executable!.command,
      timeoutMs: c.executable!.timeout_millis,
      ...(c.executable!.output_file ? { outputFile: c.executable!.output_file } : {}),
    };
  return {
    type: "external_account",
    audience: e.audience,
    subjectTokenType: e.subject_token_type,
    tokenUrl: e.token_url,
    ...(e.service_account_impersonation_url
      ? { impersonationUrl: e.service_account_impersonation_url }
      : {}),
    impersonationLifetimeS: e.service_account_impersonation?.token_lifetime_seconds ?? 3600,
    ...(e.workforce_pool_user_project
      ? { workforcePoolUserProject: e.workforce_pool_user_project }
      : {}),
    subject,
    source: secret.source,
  };
}
