/**
 * @module oauth/errors
 * The one error type of the authorization server. `description` is public (it reaches the client
 * or the person); `cause` is for the log only. An error is `redirectable` only once the client and
 * its redirect URI have been validated: until then the browser gets a local error page and never
 * a redirect (RFC 6749 §4.1.2.1).
 */

/**
 * Error codes.
 * - RFC 6749 §4.1.2.1 (authorization): invalid_request, unauthorized_client, access_denied,
 *   unsupported_response_type, invalid_scope, server_error, temporarily_unavailable.
 * - RFC 6749 §5.2 (token): invalid_request, invalid_client, invalid_grant, unauthorized_client,
 *   unsupported_grant_type, invalid_scope.
 * - RFC 7591 §3.2.2 (registration): invalid_redirect_uri, invalid_client_metadata.
 * - RFC 6750 §3.1 (bearer): invalid_request, invalid_token, insufficient_scope.
 * - RFC 8707 §2: invalid_target. RFC 7009 §2.2.1: unsupported_token_type.
 */
export type OAuthErrorCode =
  | 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type'
  | 'unsupported_response_type' | 'invalid_scope' | 'access_denied' | 'server_error' | 'temporarily_unavailable'
  | 'invalid_redirect_uri' | 'invalid_client_metadata' | 'invalid_token' | 'insufficient_scope' | 'invalid_target'
  | 'unsupported_token_type';

/** Where a redirectable authorization error goes: the validated redirect URI and the client's state. */
export interface ErrorRedirect {
  redirectUri: string;
  state: string | null;
}

const DEFAULT_STATUS: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  access_denied: 403,
  server_error: 500,
  temporarily_unavailable: 503,
};

export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly status: number;
  /** Set once client and redirect URI are validated; the error then goes back to the client. */
  readonly redirect: ErrorRedirect | undefined;
  readonly headers: Record<string, string>;

  constructor(
    readonly error: OAuthErrorCode,
    /** Public, human-readable `error_description`; never contains a secret. */
    readonly description: string,
    opts: { status?: number; redirect?: ErrorRedirect; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(`${error}: ${description}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status ?? DEFAULT_STATUS[error] ?? 400;
    this.redirect = opts.redirect;
    this.headers = opts.headers ?? {};
  }

  get redirectable(): boolean {
    return this.redirect !== undefined;
  }

  /** The same error, now addressed to a validated redirect URI. */
  redirectTo(redirect: ErrorRedirect): OAuthError {
    return new OAuthError(this.error, this.description, { status: this.status, redirect, headers: this.headers, cause: this.cause });
  }

  /** RFC 6749 §5.2 JSON body. */
  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }

  /** JSON error response with `Cache-Control: no-store` (RFC 6749 §5.1). */
  toResponse(): Response {
    return new Response(JSON.stringify(this.toJSON()), {
      status: this.status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...this.headers },
    });
  }
}

/**
 * The URL an authorization error is sent to: the redirect URI with `error`,
 * `error_description`, `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207 §2).
 */
export function errorRedirectUrl(err: OAuthError, issuer: string): string {
  if (!err.redirect) throw new Error('errorRedirectUrl needs a redirectable OAuthError');
  const u = new URL(err.redirect.redirectUri);
  u.searchParams.set('error', err.error);
  u.searchParams.set('error_description', err.description);
  if (err.redirect.state !== null) u.searchParams.set('state', err.redirect.state);
  u.searchParams.set('iss', issuer);
  return u.href;
}
