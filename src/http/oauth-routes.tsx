/**
 * @module http/oauth-routes
 * Hono adapter of the authorization server: discovery, `/register`, `/authorize`, `/consent`,
 * `/oauth/callback` (the forge's redirect), `/token`, `/revoke`, behind one error boundary:
 * an {@link OAuthError} becomes a redirect to the client (only when redirectable), a local HTML
 * page on browser routes, or an RFC 6749 §5.2 JSON body; anything else is logged and answered 500.
 * CORS only on metadata, register, token and revoke (never on browser routes).
 */
import { Hono, type Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Config } from '../config.js';
import type { AuthorizationServer } from '../oauth/authorization-server.js';
import { txCookieName } from '../oauth/authorize.js';
import { OAuthError, errorRedirectUrl } from '../oauth/errors.js';
import { MAX_REGISTRATION_BYTES } from '../oauth/registration.js';
import { clearTxCookie, parseCookies, setTxCookie } from './cookies.js';
import {
  AUTHORIZE_MULTI_PARAMS, AUTHORIZE_PARAMS, CALLBACK_PARAMS, CONSENT_PARAMS, REVOKE_PARAMS, TOKEN_PARAMS,
  clientCredentials, pickParams, readForm, readText,
} from './form.js';
import { ConsentPage } from './pages/consent-page.js';
import { ErrorPage } from './pages/error-page.js';
import { pageHeaders, renderPage } from './pages/layout.js';
import { OAUTH_CORS, wellKnownRoutes } from './well-known.js';

/** Routes whose errors are shown to a person in a browser. */
const BROWSER_PATHS = new Set(['/authorize', '/consent', '/oauth/callback']);
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };
/** Endpoints limited per client IP (`FJMCP_OAUTH_RATE_PER_MIN`). */
const RATE_LIMITED_PATHS = ['/authorize', '/consent', '/oauth/callback', '/token', '/register'] as const;

export function oauthRoutes(as: AuthorizationServer, config: Config): Hono {
  const app = new Hono();
  app.route('/', wellKnownRoutes(as));
  const forgeOrigin = config.forge.url.origin;

  const clientIp = (c: Context): string => {
    let ip = 'unknown';
    try {
      ip = getConnInfo(c).remote.address ?? ip;
    } catch {
      // Not served by @hono/node-server (app.request() in tests): no socket to read.
    }
    if (config.trustProxy) {
      // The proxy appends the address it saw; the rightmost entry is the one we can trust.
      const xff = c.req.header('x-forwarded-for')?.split(',').map((s) => s.trim()).filter(Boolean);
      if (xff?.length) ip = xff[xff.length - 1]!;
    }
    return ip;
  };

  // Per client IP rate limit of every endpoint that writes or works for an unauthenticated caller.
  // RFC 6749 §5.2 has no error code for "too many requests"; `temporarily_unavailable` (§4.1.2.1)
  // is the nearest one clients already handle, and the 429 with Retry-After (RFC 6585 §4,
  // RFC 9110 §10.2.3) says the rest. Browser routes get an HTML page instead.
  app.use('/register', OAUTH_CORS);
  app.use('/token', OAUTH_CORS);
  for (const path of RATE_LIMITED_PATHS) {
    app.use(path, async (c, next) => {
      if (c.req.method === 'OPTIONS') return next(); // CORS preflight: answered by OAUTH_CORS
      const wait = as.admitIp(path, clientIp(c));
      if (!wait) return next();
      const description = `too many requests from this address; retry in ${wait} s`;
      if (BROWSER_PATHS.has(path)) {
        const res = errorPage(429, 'temporarily_unavailable', `Too many requests from your network address. Please try again in ${wait} seconds.`);
        res.headers.set('retry-after', String(wait));
        return res;
      }
      return new OAuthError('temporarily_unavailable', description, { status: 429, headers: { 'retry-after': String(wait) } }).toResponse();
    });
  }

  app.post('/register', async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new OAuthError('invalid_client_metadata', 'the body must be application/json');
    let body: unknown;
    const text = await readText(c.req.raw, MAX_REGISTRATION_BYTES);
    try {
      body = JSON.parse(text);
    } catch {
      throw new OAuthError('invalid_client_metadata', 'the body is not valid JSON');
    }
    const out = await as.register(body, clientIp(c));
    as.count('register', 'ok');
    return new Response(JSON.stringify(out), { status: 201, headers: { 'content-type': 'application/json', ...NO_STORE } });
  });

  const authorizeHandler = async (c: Context) => {
    const source = c.req.method === 'POST' ? await readForm(c.req.raw) : new URL(c.req.url).searchParams;
    const prompt = await as.authorize(pickParams(source, AUTHORIZE_PARAMS, AUTHORIZE_MULTI_PARAMS), clientIp(c));
    as.count('authorize', 'ok');
    const headers = new Headers(pageHeaders([forgeOrigin, prompt.view.redirectOrigin]));
    headers.append('set-cookie', setTxCookie(txCookieName(prompt.view.txId), prompt.browserSecret));
    return new Response(renderPage(<ConsentPage view={prompt.view} />), { status: 200, headers });
  };
  app.get('/authorize', authorizeHandler);
  app.post('/authorize', authorizeHandler);

  app.post('/consent', async (c) => {
    const p = pickParams(await readForm(c.req.raw), CONSENT_PARAMS);
    const cookies = parseCookies(c.req.header('cookie'));
    const txId = p.tx && /^[A-Za-z0-9_-]{1,64}$/.test(p.tx) ? p.tx : undefined;
    const decision = p.decision === 'approve' ? true : p.decision === 'deny' ? false : undefined;
    if (decision === undefined) throw new OAuthError('invalid_request', 'decision must be approve or deny');
    const r = await as.consent({ txId, csrfToken: p.csrf, approve: decision, browserSecret: txId ? cookies.get(txCookieName(txId)) : undefined });
    as.count('consent', decision ? 'approved' : 'denied');
    const headers = new Headers({ location: r.location, ...NO_STORE });
    if (r.done && txId) headers.append('set-cookie', clearTxCookie(txCookieName(txId)));
    return new Response(null, { status: 303, headers });
  });

  app.get('/oauth/callback', async (c) => {
    const cookies = parseCookies(c.req.header('cookie'));
    const r = await as.callback(pickParams(new URL(c.req.url).searchParams, CALLBACK_PARAMS), (name) => cookies.get(name));
    as.count('callback', new URL(r.location).searchParams.has('error') ? 'error' : 'ok');
    const headers = new Headers({ location: r.location, ...NO_STORE });
    headers.append('set-cookie', clearTxCookie(txCookieName(r.txId)));
    // 302, not 307: Claude answers a 307 with "Method Not Allowed" (docs/authorization.md §Policy choices).
    return new Response(null, { status: 302, headers });
  });

  app.post('/token', async (c) => {
    const p = pickParams(await readForm(c.req.raw), TOKEN_PARAMS);
    const out = await as.token(p, clientCredentials(c.req.raw, p));
    as.count('token', 'ok');
    return new Response(JSON.stringify(out), { status: 200, headers: { 'content-type': 'application/json', ...NO_STORE } });
  });

  app.use('/revoke', OAUTH_CORS);
  app.post('/revoke', async (c) => {
    const p = pickParams(await readForm(c.req.raw), REVOKE_PARAMS);
    await as.revoke(p, clientCredentials(c.req.raw, p));
    as.count('revoke', 'ok');
    return new Response(null, { status: 200, headers: NO_STORE });
  });

  app.onError((err, c) => {
    const endpoint = c.req.path.replace(/^\//, '') || 'root';
    if (!(err instanceof OAuthError)) {
      as.reportError(err, { method: c.req.method, path: c.req.path });
      as.count(endpoint, 'server_error');
      if (BROWSER_PATHS.has(c.req.path)) return errorPage(500, 'server_error', 'Something went wrong on the broker; the operator can find details in its log.');
      return new OAuthError('server_error', 'internal error; see the broker log').toResponse();
    }
    as.count(endpoint, err.error);
    if (err.redirect) {
      return new Response(null, { status: 302, headers: { location: errorRedirectUrl(err, config.issuer), ...NO_STORE } });
    }
    if (BROWSER_PATHS.has(c.req.path)) return errorPage(err.status, err.error, err.description);
    return err.toResponse();
  });
  return app;
}

function errorPage(status: number, error: string, description: string): Response {
  return new Response(renderPage(<ErrorPage status={status} error={error} description={description} />), {
    status,
    headers: pageHeaders(),
  });
}
