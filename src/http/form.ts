/**
 * @module http/form
 * Request parameters for the OAuth endpoints: query (GET) or `application/x-www-form-urlencoded`
 * body (POST), each endpoint with its own allowlist. A parameter sent twice is refused
 * (RFC 6749 §3.1); an empty one counts as absent (§3.1); unknown ones are ignored (§3.1).
 * Also client credentials from `Authorization: Basic` (RFC 6749 §2.3.1).
 */
import { OAuthError } from '../oauth/errors.js';
import { readBodyText } from '../lib/request-body.js';
import type { Params } from '../oauth/context.js';
import type { PresentedCredentials } from '../oauth/clients.js';

/** Largest form body accepted, in bytes. */
export const MAX_FORM_BYTES = 64 * 1024;

export const AUTHORIZE_PARAMS = [
  'response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method',
  'resource', 'request', 'request_uri', 'response_mode', 'prompt',
] as const;
export const TOKEN_PARAMS = [
  'grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'resource', 'client_id', 'client_secret',
  'client_assertion_type', 'client_assertion',
] as const;
export const REVOKE_PARAMS = ['token', 'token_type_hint', 'client_id', 'client_secret', 'client_assertion_type', 'client_assertion'] as const;
export const CONSENT_PARAMS = ['tx', 'csrf', 'decision'] as const;
export const CALLBACK_PARAMS = ['code', 'state', 'error', 'error_description', 'iss'] as const;

/**
 * Parameters that may repeat at the authorization endpoint: `resource` (RFC 8707 §2, "may be used
 * multiple times"); their values are joined with single spaces (a URI holds no space).
 */
export const AUTHORIZE_MULTI_PARAMS = ['resource'] as const;

/**
 * Picks the allowed parameters from `source`, refusing duplicates except of the `multi` ones.
 * @throws {OAuthError} invalid_request.
 */
export function pickParams(source: URLSearchParams, allowed: readonly string[], multi: readonly string[] = []): Params {
  const out: Record<string, string> = {};
  for (const name of allowed) {
    const values = source.getAll(name);
    if (values.length > 1 && multi.includes(name)) {
      if (values.some((v) => !v || /\s/.test(v))) throw new OAuthError('invalid_request', `parameter ${name} was sent empty or with white space`);
      out[name] = values.join(' ');
      continue;
    }
    if (values.length > 1) throw new OAuthError('invalid_request', `parameter ${name} was sent more than once`);
    if (values[0]) out[name] = values[0];
  }
  return out;
}

/** Reads a form body, capped at {@link MAX_FORM_BYTES}. @throws {OAuthError} invalid_request. */
export async function readForm(req: Request): Promise<URLSearchParams> {
  const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  return new URLSearchParams(await readText(req, MAX_FORM_BYTES));
}

/** Reads a body as text up to `cap` bytes. @throws {OAuthError} invalid_request (413) when larger. */
export async function readText(req: Request, cap: number): Promise<string> {
  const body = await readBodyText(req, cap);
  if (body.tooLarge) throw new OAuthError('invalid_request', `the body is larger than ${cap} bytes`, { status: 413 });
  return body.text;
}

/**
 * Client credentials of a token or revocation request: Basic header (client id and secret are
 * form-urlencoded inside, RFC 6749 §2.3.1) and/or body parameters, including a JWT client
 * assertion (RFC 7521 §4.2: `client_assertion_type`, `client_assertion`).
 * @throws {OAuthError} invalid_client for a malformed Basic header.
 */
export function clientCredentials(req: Request, p: Params): PresentedCredentials {
  const creds: PresentedCredentials = {};
  if (p.client_id !== undefined) creds.clientId = p.client_id;
  if (p.client_secret !== undefined) creds.secret = p.client_secret;
  if (p.client_assertion !== undefined || p.client_assertion_type !== undefined) {
    creds.assertion = { type: p.client_assertion_type, jwt: p.client_assertion };
  }
  const header = req.headers.get('authorization');
  if (header && /^Basic\s/i.test(header)) {
    const decoded = Buffer.from(header.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 1) throw new OAuthError('invalid_client', 'malformed Basic credentials', { headers: { 'www-authenticate': 'Basic realm="fjmcp-broker"' } });
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    creds.basic = { clientId: dec(decoded.slice(0, i)), secret: dec(decoded.slice(i + 1)) };
  }
  return creds;
}
