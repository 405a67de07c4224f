/**
 * @module test/support/headless-browser — a browser-less driver for OAuth redirect dances:
 * `fetch` with a cookie jar, manual redirects, generic HTML form submission, and the Gitea
 * 1.26 login and grant (consent) pages. No `Origin` header is ever sent, so Gitea 1.26's Go
 * `http.CrossOriginProtection` (go-gitea/gitea#36183) lets form POSTs through; `_csrf` is sent
 * only because it is a field of the form when the form has one (Gitea ≤1.25, Forgejo).
 */
import { CookieJar } from './cookie-jar.js';
import { findForm, formData, parseForms, type HtmlForm, type HtmlFormSubmitter } from './html-forms.js';

export * from './cookie-jar.js';
export * from './html-forms.js';

/** One HTTP exchange: the response to a single request (redirects not followed). */
export interface Page {
  /** URL that was requested. */
  url: string;
  method: string;
  status: number;
  headers: Headers;
  /** Response body as text ('' for redirects whose body was discarded). */
  body: string;
  /** Absolute `Location` for 3xx responses. */
  location?: string;
}

export interface FollowOptions {
  /** Checked on every redirect target before it is fetched; true ⇒ stop and return the redirecting page. */
  stopWhen?: (url: string) => boolean;
  /** Maximum number of redirects followed (default 20). */
  maxRedirects?: number;
}

export interface RequestOptions {
  method?: string;
  body?: URLSearchParams | string;
  headers?: Record<string, string>;
}

const REDIRECT = new Set([301, 302, 303, 307, 308]);

/** A cookie-jar `fetch` client that behaves like a browser tab for server-rendered forms. */
export class HeadlessBrowser {
  readonly jar: CookieJar;
  /** Every exchange, in order (for assertions and failure messages). */
  readonly history: Page[] = [];

  constructor(opts: { jar?: CookieJar } = {}) {
    this.jar = opts.jar ?? new CookieJar();
  }

  /** One request with the jar's cookies; stores Set-Cookie; never follows redirects. */
  async request(url: string, opts: RequestOptions = {}): Promise<Page> {
    const method = (opts.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml,*/*', ...opts.headers };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    if (opts.body instanceof URLSearchParams) headers['content-type'] ??= 'application/x-www-form-urlencoded';
    const res = await fetch(url, {
      method,
      headers,
      redirect: 'manual',
      ...(opts.body !== undefined ? { body: opts.body.toString() } : {}),
    });
    this.jar.storeFromResponse(url, res);
    const loc = res.headers.get('location');
    const page: Page = {
      url,
      method,
      status: res.status,
      headers: res.headers,
      body: await res.text(),
      ...(loc !== null ? { location: new URL(loc, url).href } : {}),
    };
    this.history.push(page);
    return page;
  }

  /**
   * Requests `url` and follows redirects like a browser (303, and 301/302 after POST, become
   * GET; 307/308 keep method and body) until a non-redirect response, or until `stopWhen`
   * says the next target must not be fetched — then the redirecting page is returned and its
   * `location` is that target.
   * @throws Error after `maxRedirects` hops.
   */
  async follow(url: string, opts: FollowOptions & RequestOptions = {}): Promise<Page> {
    let req: RequestOptions = { ...(opts.method ? { method: opts.method } : {}), ...(opts.body !== undefined ? { body: opts.body } : {}), ...(opts.headers ? { headers: opts.headers } : {}) };
    let page = await this.request(url, req);
    for (let hops = 0; REDIRECT.has(page.status) && page.location; hops++) {
      if (hops >= (opts.maxRedirects ?? 20)) throw new Error(`too many redirects from ${url}`);
      if (opts.stopWhen?.(page.location)) return page;
      const keep = page.status === 307 || page.status === 308;
      req = keep ? req : {};
      page = await this.request(page.location, req);
    }
    return page;
  }

  /** Parses the forms of a page (see {@link parseForms}). */
  forms(page: Page): HtmlForm[] {
    return parseForms(page.body, page.url);
  }

  /**
   * Submits `form` like a browser: its fields with `overrides` applied plus the submitter's
   * name=value, as a POST body or GET query, then follows redirects (see {@link follow}).
   */
  async submit(
    form: HtmlForm,
    overrides: Record<string, string | undefined> = {},
    opts: FollowOptions & { submitter?: HtmlFormSubmitter } = {},
  ): Promise<Page> {
    const data = formData(form, overrides, opts.submitter);
    if (form.method === 'GET') {
      const target = new URL(form.action);
      target.search = data.toString();
      return this.follow(target.href, opts);
    }
    return this.follow(form.action, { ...opts, method: 'POST', body: data });
  }
}

/** Credentials of a forge user. */
export interface ForgeLogin {
  login: string;
  password: string;
}

function sameOrigin(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}

function isGiteaLoginPage(page: Page): boolean {
  return page.status === 200 && parseForms(page.body, page.url).some((f) => f.method === 'POST' && new URL(f.action).pathname === '/user/login');
}

function isGiteaGrantPage(page: Page): boolean {
  return page.status === 200 && parseForms(page.body, page.url).some((f) => new URL(f.action).pathname === '/login/oauth/grant');
}

function describe(page: Page): string {
  const text = page.body.replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>|<[^>]+>/g, ' ').replace(/\s+/g, ' ');
  return `${page.method} ${page.url} → ${page.status}${page.location ? ` (Location ${page.location})` : ''}: ${text.slice(0, 300)}`;
}

/**
 * Signs `user` in to Gitea through its login form (`POST /user/login`: `user_name`,
 * `password`, plus `_csrf` when the form carries one). Leaves the session cookie in the jar.
 * @returns the page after the post-login redirect chain (redirects within Gitea are followed).
 * @throws Error when Gitea shows the login form again (wrong password) or answers otherwise.
 */
export async function giteaLogin(browser: HeadlessBrowser | CookieJar, giteaUrl: string, user: ForgeLogin): Promise<Page> {
  const b = browser instanceof HeadlessBrowser ? browser : new HeadlessBrowser({ jar: browser });
  const page = await b.follow(`${giteaUrl}/user/login`);
  return submitGiteaLogin(b, page, user, giteaUrl);
}

async function submitGiteaLogin(b: HeadlessBrowser, page: Page, user: ForgeLogin, giteaUrl: string): Promise<Page> {
  const form = findForm(page.body, page.url, (f) => f.method === 'POST' && new URL(f.action).pathname === '/user/login');
  const post = await b.request(form.action, { method: 'POST', body: formData(form, { user_name: user.login, password: user.password }) });
  if (post.status !== 303 && post.status !== 302) throw new Error(`Gitea login as ${user.login} failed: ${describe(post)}`);
  if (!post.location || !sameOrigin(post.location, giteaUrl)) return post;
  return b.follow(post.location, { stopWhen: (u) => !sameOrigin(u, giteaUrl) });
}

export interface GiteaAuthorizeOptions {
  giteaUrl: string;
  /** Signs in with these credentials when Gitea asks; without them a login page is an error. */
  user?: ForgeLogin;
  /** Press "Authorize Application" (`granted=true`, default) or "Cancel" (`granted=false`). */
  decision?: 'approve' | 'deny';
  /**
   * Called for any non-redirect page this function does not know (e.g. the broker's own
   * consent page); returns the next page (typically after `browser.submit`), or undefined to fail.
   */
  onUnknownPage?: (page: Page, browser: HeadlessBrowser) => Promise<Page | undefined>;
}

export interface GiteaAuthorizeResult {
  /** The first redirect target outside Gitea after Gitea was reached (not fetched). */
  location: string;
  /** The page that redirected there. */
  page: Page;
  sawLogin: boolean;
  sawConsent: boolean;
}

/**
 * Drives a browser from `startUrl` (Gitea's `/login/oauth/authorize` or any URL that
 * redirects to it) through Gitea's login (if asked) and grant page (if shown: an existing
 * grant of a confidential app skips it), and returns the redirect Location that leaves Gitea
 * — normally `redirect_uri?code=…&state=…` or `?error=access_denied…` — without fetching it.
 * @throws Error naming the page when Gitea answers with an error page (e.g. HTTP 400
 * `grant_error` for an unknown client or unregistered redirect_uri).
 */
export async function giteaAuthorize(browser: HeadlessBrowser, startUrl: string, opts: GiteaAuthorizeOptions): Promise<GiteaAuthorizeResult> {
  let reached = sameOrigin(startUrl, opts.giteaUrl);
  const stopWhen = (u: string): boolean => {
    if (sameOrigin(u, opts.giteaUrl)) {
      reached = true;
      return false;
    }
    return reached;
  };
  let sawLogin = false;
  let sawConsent = false;
  let page = await browser.follow(startUrl, { stopWhen });
  for (let step = 0; step < 10; step++) {
    if (page.location && REDIRECT.has(page.status)) {
      if (stopWhen(page.location)) return { location: page.location, page, sawLogin, sawConsent };
      page = await browser.follow(page.location, { stopWhen }); // e.g. a redirect returned by onUnknownPage
      continue;
    }
    if (isGiteaLoginPage(page)) {
      if (!opts.user) throw new Error(`Gitea asks for a login and no user was given: ${page.url}`);
      if (sawLogin) throw new Error(`Gitea rejected the login of ${opts.user.login}: ${describe(page)}`);
      sawLogin = true;
      const form = findForm(page.body, page.url, '/user/login');
      page = await browser.submit(form, { user_name: opts.user.login, password: opts.user.password }, { stopWhen });
    } else if (isGiteaGrantPage(page)) {
      sawConsent = true;
      const form = findForm(page.body, page.url, '/login/oauth/grant');
      page = await browser.submit(form, { granted: opts.decision === 'deny' ? 'false' : 'true' }, { stopWhen });
    } else {
      const next = opts.onUnknownPage ? await opts.onUnknownPage(page, browser) : undefined;
      if (!next) throw new Error(`unexpected page during Gitea authorization: ${describe(page)}`);
      page = next;
    }
  }
  throw new Error(`Gitea authorization did not leave Gitea: ${describe(page)}`);
}
