/**
 * @module oauth/client-metadata
 * Parses client metadata (RFC 7591 §2) from a registration request or a client ID metadata
 * document into {@link ClientMetadata}: only the fields the broker uses, each bounded. Unknown
 * fields are ignored; grant types the broker does not support are dropped (RFC 7591 §3.2.1 lets
 * the server replace requested values and return the effective ones).
 */
import { z } from 'zod';
import { OAuthError } from './errors.js';
import { redirectUriProblem } from './redirect-uri.js';

/** Most redirect URIs one client may register. */
export const MAX_REDIRECT_URIS = 10;
/** Longest client_name kept, in characters. */
export const MAX_CLIENT_NAME_LENGTH = 200;

export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;
export type AuthMethod = 'none' | 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt';
/** Client authentication methods the token and revocation endpoints accept (RFC 8414 §2). */
export const SUPPORTED_AUTH_METHODS: readonly AuthMethod[] = ['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt'];
/**
 * Methods a dynamically registered client may choose (RFC 7591 §2). `private_key_jwt` is offered
 * to client ID metadata documents only: a document is the client's own, published key set at a
 * URL it controls, whereas a registration request proves nothing about who sent it.
 */
export const DCR_AUTH_METHODS: readonly AuthMethod[] = ['none', 'client_secret_post', 'client_secret_basic'];
/** Methods a client ID metadata document may declare: public, or `private_key_jwt` (RFC 7523 §2.2). */
export const CIMD_AUTH_METHODS: readonly AuthMethod[] = ['none', 'private_key_jwt'];
/**
 * JWS algorithms accepted for client assertions (RFC 7518 §3.1; Ed25519 per RFC 8037):
 * asymmetric only — `HS*` would need a shared secret, which a metadata document must not carry,
 * and `none` is never a signature.
 */
export const CLIENT_ASSERTION_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
/** Most keys a client's JWK Set may hold. */
export const MAX_CLIENT_JWKS_KEYS = 10;
/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export interface ClientMetadata {
  redirect_uris: string[];
  client_name?: string;
  client_uri?: string;
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: AuthMethod;
  scope?: string;
  software_id?: string;
  software_version?: string;
  /** `private_key_jwt` only: where the client's public keys are (RFC 7591 §2), https. */
  jwks_uri?: string;
  /** `private_key_jwt` only: the client's public keys inline (RFC 7591 §2, RFC 7517 §5). */
  jwks?: { keys: Record<string, unknown>[] };
  /** `private_key_jwt` only: the one JWS algorithm its assertions use, when declared (RFC 7591 §2). */
  token_endpoint_auth_signing_alg?: string;
}

const str = (max: number) => z.string().max(max);
const RAW = z.object({
  redirect_uris: z.array(z.string()).min(1).max(MAX_REDIRECT_URIS),
  client_name: str(MAX_CLIENT_NAME_LENGTH).optional(),
  client_uri: str(2000).optional(),
  grant_types: z.array(str(200)).max(10).optional(),
  response_types: z.array(str(50)).max(5).optional(),
  token_endpoint_auth_method: str(50).optional(),
  scope: str(1000).optional(),
  software_id: str(200).optional(),
  software_version: str(100).optional(),
  jwks_uri: str(2000).optional(),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_CLIENT_JWKS_KEYS) }).optional(),
  token_endpoint_auth_signing_alg: str(20).optional(),
});

/**
 * @param defaultAuthMethod RFC 7591 §2 defaults to `client_secret_basic`; a metadata document
 *   describes a public client, so CIMD passes `none`.
 * @param allowedMethods {@link DCR_AUTH_METHODS} for registration, {@link CIMD_AUTH_METHODS} for
 *   metadata documents.
 * @throws {OAuthError} `invalid_redirect_uri` or `invalid_client_metadata` (RFC 7591 §3.2.2),
 *   not redirectable.
 */
export function parseClientMetadata(input: unknown, defaultAuthMethod: AuthMethod, allowedMethods: readonly AuthMethod[] = DCR_AUTH_METHODS): ClientMetadata {
  const r = RAW.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.join('.') || 'body';
    const code = where.startsWith('redirect_uris') ? 'invalid_redirect_uri' : 'invalid_client_metadata';
    throw new OAuthError(code, `${where}: ${issue?.message ?? 'invalid'}`);
  }
  const m = r.data;
  for (const uri of m.redirect_uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new OAuthError('invalid_redirect_uri', `redirect URI ${JSON.stringify(uri.slice(0, 200))} ${problem}`);
  }
  const method = (m.token_endpoint_auth_method ?? defaultAuthMethod) as AuthMethod;
  if (!allowedMethods.includes(method)) {
    throw new OAuthError('invalid_client_metadata', `token_endpoint_auth_method must be one of ${allowedMethods.join(', ')}`);
  }
  const responseTypes = m.response_types ?? ['code'];
  if (!responseTypes.includes('code')) throw new OAuthError('invalid_client_metadata', 'response_types must include "code"');
  // Departure from RFC 7591 §2 (default ["authorization_code"]): MCP clients that omit
  // grant_types still expect to refresh, so the default includes refresh_token.
  const requested = m.grant_types ?? [...SUPPORTED_GRANT_TYPES];
  const grantTypes = requested.filter((g) => (SUPPORTED_GRANT_TYPES as readonly string[]).includes(g));
  if (!grantTypes.includes('authorization_code')) {
    throw new OAuthError('invalid_client_metadata', 'grant_types must include "authorization_code"');
  }
  if (m.client_uri !== undefined && !isHttpsUrl(m.client_uri)) {
    throw new OAuthError('invalid_client_metadata', 'client_uri must be an https URL');
  }
  const out: ClientMetadata = {
    redirect_uris: m.redirect_uris,
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: method,
  };
  const name = m.client_name?.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (name) out.client_name = name;
  if (m.client_uri) out.client_uri = m.client_uri;
  if (m.scope) out.scope = m.scope;
  if (m.software_id) out.software_id = m.software_id;
  if (m.software_version) out.software_version = m.software_version;
  if (method === 'private_key_jwt') Object.assign(out, keyMetadata(m));
  return out;
}

/**
 * The key metadata of a `private_key_jwt` client: exactly one of `jwks_uri` (https) and `jwks`
 * (RFC 7591 §2: "MUST NOT both be present"), public asymmetric keys only, and an algorithm from
 * {@link CLIENT_ASSERTION_ALGS} when one is declared.
 * @throws {OAuthError} `invalid_client_metadata`.
 */
function keyMetadata(m: z.infer<typeof RAW>): Pick<ClientMetadata, 'jwks_uri' | 'jwks' | 'token_endpoint_auth_signing_alg'> {
  const bad = (what: string) => new OAuthError('invalid_client_metadata', what);
  if (!!m.jwks_uri === !!m.jwks) throw bad('private_key_jwt needs exactly one of jwks_uri and jwks');
  const alg = m.token_endpoint_auth_signing_alg;
  if (alg !== undefined && !(CLIENT_ASSERTION_ALGS as readonly string[]).includes(alg)) {
    throw bad(`token_endpoint_auth_signing_alg must be one of ${CLIENT_ASSERTION_ALGS.join(', ')}`);
  }
  const out: Pick<ClientMetadata, 'jwks_uri' | 'jwks' | 'token_endpoint_auth_signing_alg'> = {};
  if (alg) out.token_endpoint_auth_signing_alg = alg;
  if (m.jwks_uri) {
    if (!isHttpsUrl(m.jwks_uri)) throw bad('jwks_uri must be an https URL');
    out.jwks_uri = m.jwks_uri;
    return out;
  }
  for (const key of m.jwks!.keys) {
    const problem = publicJwkProblem(key);
    if (problem) throw bad(`jwks ${problem}`);
  }
  out.jwks = { keys: m.jwks!.keys };
  return out;
}

/** Why `key` is not an asymmetric public JWK (RFC 7517 §4), or undefined. */
export function publicJwkProblem(key: unknown): string | undefined {
  if (!key || typeof key !== 'object' || Array.isArray(key)) return 'holds a key that is not a JSON object';
  if (!['RSA', 'EC', 'OKP'].includes(String((key as { kty?: unknown }).kty))) return 'may hold only RSA, EC or OKP public keys';
  if (PRIVATE_JWK_MEMBERS.some((k) => k in key)) return 'must hold public keys only (a private or symmetric key member was found)';
  return undefined;
}

function isHttpsUrl(v: string): boolean {
  try {
    return new URL(v).protocol === 'https:';
  } catch {
    return false;
  }
}
