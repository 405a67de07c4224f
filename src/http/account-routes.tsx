/**
 * @module http/account-routes
 * Hono adapter of the account page (account/account.ts): `GET /account`, `GET /account/sign-in`
 * (to the forge), the forge's redirect back on `/oauth/callback` when its `state` is an account
 * sign-in (the same OAuth application, so the same redirect URI; other states fall through to the
 * authorization server), and the forms: `POST /account/revoke`, `/account/revoke-all`,
 * `/account/tokens`, `/account/tokens/revoke`, `/account/sign-out`.
 *
 * The page has its own session cookie, `__Host-fjmcp-account` (RFC 6265bis §4.1.3.2: Secure,
 * Path=/, no Domain; HttpOnly; SameSite=Lax so that it is sent on the redirect back from the
 * forge; 15 minutes). Every form carries a CSRF token derived from the session, and a POST whose
 * `Origin` names another origin is refused as well.
 */
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { ACCOUNT_LOGIN_TTL_MS, ACCOUNT_SESSION_TTL_MS, AccountError, type Account, type AccountSession } from '../account/account.js';
import type { Config } from '../config.js';
import type { Logger } from '../ops/log.js';
import { OAuthError } from '../oauth/errors.js';
import { parseCookies } from './cookies.js';
import { CALLBACK_PARAMS, pickParams, readForm } from './form.js';
import { AccountMessagePage, AccountPage, SignInPage } from './pages/account-page.js';
import { pageHeaders, renderPage } from './pages/layout.js';

export const ACCOUNT_COOKIE = '__Host-fjmcp-account';
export const ACCOUNT_LOGIN_COOKIE = '__Host-fjmcp-account-login';

const cookie = (name: string, value: string, maxAgeMs: number) =>
  `${name}=${value}; Max-Age=${Math.floor(maxAgeMs / 1000)}; Path=/; Secure; HttpOnly; SameSite=Lax`;

const sameSecret = (a: string | undefined, b: string) => {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export function accountRoutes(deps: { account: Account; config: Config; log: Logger }): Hono {
  const { account, config, log } = deps;
  const app = new Hono();
  const forgeOrigin = config.forge.url.origin;
  const issuerOrigin = new URL(config.issuer).origin;

  const html = (body: unknown, status = 200, setCookies: string[] = []) => {
    const headers = new Headers(pageHeaders());
    for (const c of setCookies) headers.append('set-cookie', c);
    return new Response(renderPage(body), { status, headers });
  };
  const seeOther = (location: string, setCookies: string[] = []) => {
    const headers = new Headers({ location, 'cache-control': 'no-store' });
    for (const c of setCookies) headers.append('set-cookie', c);
    return new Response(null, { status: 303, headers });
  };
  const sessionId = (c: Context) => parseCookies(c.req.header('cookie')).get(ACCOUNT_COOKIE);

  async function page(s: AccountSession, extra: { notice?: string; created?: { name: string; token: string; expiresAt: number } } = {}, status = 200) {
    const [connections, tokens] = await Promise.all([account.connections(s.personId), account.personalTokens(s.personId)]);
    return html(<AccountPage session={s} forgeOrigin={forgeOrigin} mcpUrl={config.mcpUrl} connections={connections} tokens={tokens} {...extra} />, status);
  }

  /** A form post of a signed-in person with a valid CSRF token, or the refusal to send. */
  async function formOf(c: Context): Promise<{ s: AccountSession; form: URLSearchParams } | Response> {
    const origin = c.req.header('origin');
    // Chromium sends `Origin: null` for form posts from a page with `Referrer-Policy: no-referrer`
    // (ours): that tells nothing, and the CSRF token decides.
    if (origin && origin !== 'null' && origin !== issuerOrigin) return html(<AccountMessagePage status={403} message="This form was sent from another site; nothing was changed." />, 403);
    const form = await readForm(c.req.raw);
    const s = await account.session(sessionId(c));
    if (!s) return seeOther('/account');
    if (!sameSecret(form.get('csrf') ?? undefined, s.csrf)) return html(<AccountMessagePage status={403} message="This form has expired or did not come from your account page; nothing was changed. Open the page again." />, 403);
    return { s, form };
  }

  app.get('/account', async (c) => {
    const s = await account.session(sessionId(c));
    if (!s) return html(<SignInPage forgeOrigin={forgeOrigin} />);
    return page(s);
  });

  app.get('/account/sign-in', async () => {
    const { location, browser } = await account.startSignIn();
    const headers = new Headers({ location: location.href, 'cache-control': 'no-store' });
    headers.append('set-cookie', cookie(ACCOUNT_LOGIN_COOKIE, browser, ACCOUNT_LOGIN_TTL_MS));
    return new Response(null, { status: 302, headers });
  });

  // The forge redirects every sign-in of the broker's application here; only ours are handled.
  app.use('/oauth/callback', async (c, next) => {
    const p = pickParams(new URL(c.req.url).searchParams, CALLBACK_PARAMS);
    if (!(await account.ownsState(p.state))) return next();
    const browser = parseCookies(c.req.header('cookie')).get(ACCOUNT_LOGIN_COOKIE);
    const clearLogin = cookie(ACCOUNT_LOGIN_COOKIE, '', 0);
    try {
      const id = await account.finishSignIn(p, browser);
      return seeOther('/account', [clearLogin, cookie(ACCOUNT_COOKIE, id, ACCOUNT_SESSION_TTL_MS)]);
    } catch (err) {
      if (err instanceof AccountError) return html(<AccountMessagePage status={err.status} message={err.message} />, err.status, [clearLogin]);
      throw err;
    }
  });

  app.post('/account/revoke', async (c) => {
    const f = await formOf(c);
    if (f instanceof Response) return f;
    const clientId = f.form.get('client_id') ?? '';
    const n = await account.revokeClient(f.s.personId, clientId);
    return page(f.s, { notice: n ? 'Disconnected. That assistant can no longer act as you; its open sessions were closed.' : 'That assistant was not connected.' });
  });

  app.post('/account/revoke-all', async (c) => {
    const f = await formOf(c);
    if (f instanceof Response) return f;
    const n = await account.revokeAll(f.s.personId);
    return page(f.s, { notice: `Every assistant was disconnected (${n} connection${n === 1 ? '' : 's'} ended).` });
  });

  app.post('/account/tokens', async (c) => {
    const f = await formOf(c);
    if (f instanceof Response) return f;
    const name = f.form.get('name') ?? '';
    const created = await account.createPersonalToken(f.s, name, Number(f.form.get('expiry_days')));
    return page(f.s, { created: { name: name.trim(), token: created.token, expiresAt: created.expiresAt } });
  });

  app.post('/account/tokens/revoke', async (c) => {
    const f = await formOf(c);
    if (f instanceof Response) return f;
    const ok = await account.revokePersonalToken(f.s.personId, f.form.get('id') ?? '');
    return page(f.s, { notice: ok ? 'Token revoked. It is refused from its next request on; its open sessions were closed.' : 'That token was not active.' });
  });

  app.post('/account/sign-out', async (c) => {
    const f = await formOf(c);
    if (f instanceof Response) return f;
    await account.signOut(sessionId(c)!);
    return html(<SignInPage forgeOrigin={forgeOrigin} notice="You are signed out of this page. Your assistants stay connected." />, 200, [cookie(ACCOUNT_COOKIE, '', 0)]);
  });

  app.onError((err, c) => {
    if (err instanceof AccountError) return html(<AccountMessagePage status={err.status} message={err.message} />, err.status);
    if (err instanceof OAuthError) return html(<AccountMessagePage status={err.status} message={err.description} />, err.status);
    log.error({ err, method: c.req.method, path: c.req.path }, 'account page failed');
    return html(<AccountMessagePage status={500} message="Something went wrong on the broker; the operator can find details in its log." />, 500);
  });
  return app;
}
