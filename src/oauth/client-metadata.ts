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
export type AuthMethod = 'none' | 'client_secret_post' | 'client_secret_basic';
export const SUPPORTED_AUTH_METHODS: readonly AuthMethod[] = ['none', 'client_secret_post', 'client_secret_basic'];

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
});

/**
 * @param defaultAuthMethod RFC 7591 §2 defaults to `client_secret_basic`; a metadata document
 *   describes a public client, so CIMD passes `none`.
 * @throws {OAuthError} `invalid_redirect_uri` or `invalid_client_metadata` (RFC 7591 §3.2.2),
 *   not redirectable.
 */
export function parseClientMetadata(input: unknown, defaultAuthMethod: AuthMethod): ClientMetadata {
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
  if (!SUPPORTED_AUTH_METHODS.includes(method)) {
    throw new OAuthError('invalid_client_metadata', `token_endpoint_auth_method must be one of ${SUPPORTED_AUTH_METHODS.join(', ')}`);
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
  return out;
}

function isHttpsUrl(v: string): boolean {
  try {
    return new URL(v).protocol === 'https:';
  } catch {
    return false;
  }
}
