/**
 * @module upstream/forge-client
 * The broker as OAuth client (one confidential application, client_secret_post, PKCE S256) of
 * a Forgejo or Gitea forge, built on oauth4webapi — the only module that imports it. Token
 * endpoint answers are mapped onto the three failures of the contract: a refusal of the person's
 * grant ends it, a refusal of the broker's own credentials or request is an operator problem
 * that keeps every grant, and 5xx / network / deadline is transient.
 * @see [RFC 6749 §4.1](https://www.rfc-editor.org/rfc/rfc6749.html#section-4.1), [§6](https://www.rfc-editor.org/rfc/rfc6749.html#section-6)
 * @see [RFC 7636 §4](https://www.rfc-editor.org/rfc/rfc7636.html#section-4)
 */
import { randomBytes } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import type { Config } from '../config.js';
import type { Logger } from '../ops/log.js';
import { bodyText, FORGE_TIMEOUT_MS, forgeUrl, unavailable, withoutTrailingSlash, type FetchLike } from './forge-http.js';
import { health, identify, isAllowed, memberships, type ForgeUserDeps } from './forge-user.js';
import {
  ForgeClientRefusedError,
  ForgeGrantEndedError,
  ForgeUnavailableError,
  type ForgeClient,
  type ForgeCredentialsStatus,
  type ForgeTokenSet,
} from './types.js';

/** The broker's forge callback path; the forge app must list `${issuer}${FORGE_CALLBACK_PATH}`. */
export const FORGE_CALLBACK_PATH = '/oauth/callback';
/** Assumed access-token lifetime when the forge omits `expires_in` (Gitea's default), seconds. */
const DEFAULT_EXPIRES_IN_S = 3600;

export interface ForgeClientDeps {
  config: Config;
  log: Logger;
  fetch?: FetchLike;
  /** ms since the epoch; tests skip ahead. Default `Date.now`. */
  clock?: () => number;
  /** Deadline of each forge call, ms. Default {@link FORGE_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Scopes to request. Empty config = none sent = full account power (Gitea, Forgejo). When the
 * operator restricts scopes (Gitea >= 1.23 honours PAT scopes, forge-facts §5), the broker adds
 * what it needs itself: `read:user` for `GET /api/v1/user` and, with an organisation allowlist,
 * `read:organization` for the membership check; without them Gitea 1.26 answers 403.
 * `openid` is never requested: Gitea keeps the nonce on the grant and may return an id_token
 * with a stale nonce (forge-facts §3); the broker identifies people by `/api/v1/user` instead.
 */
export function forgeScopes(config: Pick<Config, 'forge' | 'allow'>): string[] {
  const wanted = config.forge.scopes.filter((s) => s !== 'openid');
  if (wanted.length === 0) return [];
  const extra = ['read:user', ...(config.allow.orgs.length ? ['read:organization'] : [])];
  return [...new Set([...wanted, ...extra])];
}

/**
 * True when the forge's discovery `issuer` names the configured forge URL. Gitea <= 1.24 gives
 * ROOT_URL with its trailing slash, >= 1.25 without (go-gitea/gitea#34966, forge-facts §7); both
 * forms match, with or without a sub-path. Nothing else does: no other host, port or path.
 */
export function issuerMatchesForgeUrl(issuer: unknown, forgeBase: URL): issuer is string {
  if (typeof issuer !== 'string') return false;
  try {
    return withoutTrailingSlash(new URL(issuer)) === withoutTrailingSlash(forgeBase);
  } catch {
    return false;
  }
}

/**
 * Whose fault a 4xx of the token endpoint is. RFC 6749 §5.2: `invalid_client` (and HTTP 401)
 * is client authentication; `invalid_grant` is the grant. Gitea 1.26 (routers/web/auth/
 * oauth2_provider.go) answers every error with 400 and also says `unauthorized_client` both for
 * the client ("invalid client secret" at the code exchange, "unexpected redirect URI") and for
 * the person's token ("token was already used", "unable to parse refresh token", "failed PKCE
 * code challenge"), so for that code the description decides.
 * @returns `credentials` (the broker's), `grant` (the person's), or `request` (anything else the
 *   forge refused about the broker's request: kept, like credentials, never ends a grant).
 */
export function classifyTokenError(status: number, code: string, description: string): 'credentials' | 'grant' | 'request' {
  if (status === 401 || code === 'invalid_client') return 'credentials';
  if (code === 'unauthorized_client') {
    return /client secret|client id|cannot load client|redirect uri/i.test(description) ? 'credentials' : 'grant';
  }
  if (code === 'invalid_grant') return 'grant';
  return 'request';
}

export function createForgeClient(deps: ForgeClientDeps): ForgeClient {
  const { config, log } = deps;
  const fetchImpl: FetchLike = deps.fetch ?? globalThis.fetch;
  const clock = deps.clock ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? FORGE_TIMEOUT_MS;
  const base = config.forge.url;
  const redirectUri = `${config.issuer}${FORGE_CALLBACK_PATH}`;
  const client: oauth.Client = { client_id: config.forge.clientId };
  // client_secret_post, not _basic: RFC 6749 §2.3.1 has Basic credentials form-urlencoded first,
  // and oauth4webapi encodes even `-` and `_` (%2D, %5F), but Gitea 1.26 does not URL-decode the
  // header (modules/auth/httpauth), so a UUID client id arrives as `1ed9deda%2D…` and the token
  // endpoint answers invalid_client "cannot load client". Seen against Gitea 1.26.0.
  const clientAuth = oauth.ClientSecretPost(config.forge.clientSecret);
  const userDeps: ForgeUserDeps = { forgeBase: base, allow: config.allow, log, fetch: fetchImpl, timeoutMs };
  // One options shape for the GET (discovery) and POST (token endpoint) requests.
  const http = (): oauth.HttpRequestOptions<any, any> => ({
    signal: AbortSignal.timeout(timeoutMs),
    [oauth.customFetch]: fetchImpl as never,
    // Plain http only reaches here on loopback or with FJMCP_INSECURE_FORGE_HTTP (config.ts).
    [oauth.allowInsecureRequests]: base.protocol === 'http:',
  });

  let metadata: oauth.AuthorizationServer | undefined;
  /** Unknown until the forge first answers the token endpoint: assumed fine. */
  let credentialStatus: ForgeCredentialsStatus = { ok: true };
  let discovering: Promise<oauth.AuthorizationServer> | undefined;

  /**
   * Authorization server metadata from `/.well-known/openid-configuration`, cached for the
   * process once it succeeded. Gitea <= 1.24 gives the issuer with a trailing slash, >= 1.25
   * without (forge-facts §7): either form of FJMCP_FORGE_URL is accepted, nothing else.
   */
  function discover(): Promise<oauth.AuthorizationServer> {
    if (metadata) return Promise.resolve(metadata);
    discovering ??= (async () => {
      let res: Response;
      try {
        res = await oauth.discoveryRequest(base, { ...http(), algorithm: 'oidc' });
      } catch (err) {
        throw unavailable('GET /.well-known/openid-configuration', err, timeoutMs);
      }
      if (res.status !== 200) {
        await bodyText(res, 0);
        throw new ForgeUnavailableError(`forge discovery answered HTTP ${res.status} (is [oauth2] ENABLED on the forge?)`);
      }
      const issuer = ((await res.clone().json().catch(() => ({}))) as { issuer?: unknown }).issuer;
      if (!issuerMatchesForgeUrl(issuer, base)) {
        log.error({ issuer, forgeUrl: base.href }, 'forge issuer does not match FJMCP_FORGE_URL; set FJMCP_FORGE_URL to the forge ROOT_URL');
        throw new ForgeUnavailableError(`forge issuer ${JSON.stringify(issuer)} does not match FJMCP_FORGE_URL ${base.href}`);
      }
      try {
        metadata = await oauth.processDiscoveryResponse(new URL(issuer), res);
      } catch (err) {
        throw new ForgeUnavailableError('forge sent malformed authorization server metadata', { cause: err });
      }
      return metadata;
    })().finally(() => {
      discovering = undefined;
    });
    return discovering;
  }

  /**
   * Maps a token endpoint answer: a refusal of the person's grant ends it, a refusal of the
   * broker's credentials or request keeps it ({@link classifyTokenError}), 5xx is transient,
   * 200 is parsed.
   */
  async function tokenSet(
    what: string,
    res: Response,
    process: (r: Response) => Promise<oauth.TokenEndpointResponse>,
  ): Promise<ForgeTokenSet> {
    if (res.status >= 400 && res.status < 500) {
      const body = (await res.json().catch(() => ({}))) as { error?: unknown; error_description?: unknown };
      const code = typeof body.error === 'string' ? body.error : 'unknown_error';
      const description = typeof body.error_description === 'string' ? body.error_description.slice(0, 200) : '';
      const said = `HTTP ${res.status} ${code}${description ? `: ${description}` : ''}`;
      const verdict = classifyTokenError(res.status, code, description);
      if (verdict === 'grant') throw new ForgeGrantEndedError(`forge refused the ${what} (${said})`);
      if (verdict === 'credentials') {
        const detail = `the forge refused the broker's OAuth client credentials (${said}); check FJMCP_FORGE_CLIENT_ID and FJMCP_FORGE_CLIENT_SECRET and that the forge application still exists. People's sign-ins are kept.`;
        credentialStatus = { ok: false, detail, at: clock() };
        log.error({ status: res.status, error: code, description }, 'forge rejected the broker\'s client credentials: check FJMCP_FORGE_CLIENT_ID/SECRET and that the forge application still exists');
        throw new ForgeClientRefusedError(`forge refused the broker's client credentials at the ${what} (${said})`, 'credentials');
      }
      log.error({ status: res.status, error: code, description }, 'forge refused the broker\'s token request');
      throw new ForgeClientRefusedError(`forge refused the broker's ${what} request (${said})`, 'request');
    }
    if (res.status !== 200) {
      await bodyText(res, 0);
      throw new ForgeUnavailableError(`forge token endpoint answered HTTP ${res.status} to the ${what}`);
    }
    let r: oauth.TokenEndpointResponse;
    try {
      r = await process(res);
    } catch (err) {
      throw new ForgeUnavailableError(`forge sent a malformed token response to the ${what}`, { cause: err });
    }
    credentialStatus = { ok: true, at: clock() };
    return {
      accessToken: r.access_token,
      ...(r.refresh_token ? { refreshToken: r.refresh_token } : {}),
      expiresAt: clock() + (r.expires_in ?? DEFAULT_EXPIRES_IN_S) * 1000,
    };
  }

  async function post(what: string, send: () => Promise<Response>): Promise<Response> {
    try {
      return await send();
    } catch (err) {
      if (err instanceof ForgeUnavailableError) throw err;
      throw unavailable(`POST token endpoint (${what})`, err, timeoutMs);
    }
  }

  return {
    authorizationUrl({ state, codeChallenge }) {
      // Metadata is fetched asynchronously; before the first discovery the path every Gitea and
      // Forgejo serves is used (routers/web/web.go `/login/oauth/authorize`).
      const url = new URL(metadata?.authorization_endpoint ?? forgeUrl(base, 'login/oauth/authorize').href);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', config.forge.clientId);
      url.searchParams.set('redirect_uri', redirectUri);
      url.searchParams.set('state', state);
      url.searchParams.set('code_challenge', codeChallenge);
      url.searchParams.set('code_challenge_method', 'S256');
      const scopes = forgeScopes(config);
      if (scopes.length) url.searchParams.set('scope', scopes.join(' '));
      if (!metadata) void discover().catch((err: Error) => log.warn({ err: err.message }, 'forge discovery failed'));
      return url;
    },

    async exchangeCode({ code, codeVerifier }) {
      const as = await discover();
      // The caller (the broker's callback) has already matched `state` against its transaction.
      // Gitea/Forgejo send no RFC 9207 `iss` on the callback; should a forge advertise it, the
      // callback is where it must be checked, so it is restated here only to satisfy the library.
      const callback = new URLSearchParams({ code });
      if (as.authorization_response_iss_parameter_supported) callback.set('iss', as.issuer);
      const params = oauth.validateAuthResponse(as, client, callback, oauth.skipStateCheck);
      const res = await post('authorization code', () =>
        oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, codeVerifier, http()),
      );
      return tokenSet('authorization code', res, (r) => oauth.processAuthorizationCodeResponse(as, client, r));
    },

    async refresh(refreshToken) {
      const as = await discover();
      const res = await post('refresh token', () => oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, http()));
      return tokenSet('refresh token', res, (r) => oauth.processRefreshTokenResponse(as, client, r));
    },

    identify: (accessToken) => identify(userDeps, accessToken),
    isAllowed: (identity, accessToken) => isAllowed(userDeps, identity, accessToken),
    health: () => health(userDeps),
    memberships: (accessToken) => memberships(userDeps, accessToken),
    credentials: () => credentialStatus,

    async verifyCredentials() {
      const as = await discover();
      // A random refresh token: harmless, as no grant can match it.
      const probe = `fjmcp-credentials-check-${randomBytes(16).toString('hex')}`;
      const res = await post('credentials check', () => oauth.refreshTokenGrantRequest(as, client, clientAuth, probe, http()));
      try {
        await tokenSet('credentials check', res, (r) => oauth.processRefreshTokenResponse(as, client, r));
      } catch (err) {
        if (err instanceof ForgeGrantEndedError) credentialStatus = { ok: true, at: clock() };
        else if (err instanceof ForgeClientRefusedError && err.kind === 'request') return { ok: false, detail: err.message, at: clock() };
        else if (!(err instanceof ForgeClientRefusedError)) throw err;
      }
      return credentialStatus;
    },
  };
}
