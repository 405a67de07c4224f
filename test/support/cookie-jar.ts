/**
 * @module test/support/cookie-jar — a small RFC 6265 cookie jar for the headless browser.
 * Cookies are kept per host+port (as if every cookie were host-only: the `Domain` attribute
 * is ignored, which is stricter than a browser and what loopback test servers need), honour
 * `Path`, `Secure` (sent over https, and over http to loopback hosts as browsers do),
 * the `__Host-` / `__Secure-` prefixes (RFC 6265bis §4.1.3), and deletion by `Max-Age<=0`
 * or a past `Expires`.
 */

export interface StoredCookie {
  name: string;
  value: string;
  /** `hostname:port` the cookie belongs to. */
  origin: string;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite?: string;
  /** Epoch ms; undefined = session cookie. */
  expiresAt?: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** `hostname:port` with the default port filled in. */
export function originKey(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

/** True when `Secure` cookies may travel to this URL (https, or http to a loopback host). */
export function isPotentiallyTrustworthy(url: URL): boolean {
  return url.protocol === 'https:' || LOOPBACK.has(url.hostname);
}

/** RFC 6265 §5.1.4 default-path: the request path up to (not including) its last `/`. */
function defaultPath(url: URL): string {
  const p = url.pathname;
  if (!p.startsWith('/') || p.lastIndexOf('/') === 0) return '/';
  return p.slice(0, p.lastIndexOf('/'));
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

export class CookieJar {
  private cookies: StoredCookie[] = [];

  /** Stores every `Set-Cookie` of a response received from `url`. */
  storeFromResponse(url: string | URL, res: Response): void {
    for (const header of res.headers.getSetCookie()) this.setCookie(url, header);
  }

  /**
   * Applies one `Set-Cookie` header value received from `url`.
   * @returns false when the cookie was rejected (bad prefix, Secure over plain http to a non-loopback host).
   */
  setCookie(url: string | URL, header: string): boolean {
    const u = new URL(url);
    const [pair = '', ...attrs] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return false;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const c: StoredCookie = { name, value, origin: originKey(u), path: defaultPath(u), secure: false, httpOnly: false };
    let hasDomain = false;
    let maxAge: number | undefined;
    let expires: number | undefined;
    for (const raw of attrs) {
      const i = raw.indexOf('=');
      const key = (i < 0 ? raw : raw.slice(0, i)).trim().toLowerCase();
      const val = i < 0 ? '' : raw.slice(i + 1).trim();
      if (key === 'path' && val.startsWith('/')) c.path = val;
      else if (key === 'secure') c.secure = true;
      else if (key === 'httponly') c.httpOnly = true;
      else if (key === 'samesite') c.sameSite = val;
      else if (key === 'domain' && val) hasDomain = true;
      else if (key === 'max-age' && /^-?\d+$/.test(val)) maxAge = Number(val);
      else if (key === 'expires') {
        const t = Date.parse(val);
        if (!Number.isNaN(t)) expires = t;
      }
    }
    if (c.secure && !isPotentiallyTrustworthy(u)) return false;
    if (name.startsWith('__Secure-') && !c.secure) return false;
    if (name.startsWith('__Host-') && (!c.secure || hasDomain || c.path !== '/')) return false;
    if (maxAge !== undefined) c.expiresAt = Date.now() + maxAge * 1000;
    else if (expires !== undefined) c.expiresAt = expires;
    this.cookies = this.cookies.filter((o) => !(o.name === c.name && o.origin === c.origin && o.path === c.path));
    if (c.expiresAt !== undefined && c.expiresAt <= Date.now()) return true; // deletion
    this.cookies.push(c);
    return true;
  }

  /** Live cookies that would be sent to `url`, longest path first (RFC 6265 §5.4). */
  cookiesFor(url: string | URL): StoredCookie[] {
    const u = new URL(url);
    this.purgeExpired();
    return this.cookies
      .filter((c) => c.origin === originKey(u) && pathMatches(u.pathname, c.path) && (!c.secure || isPotentiallyTrustworthy(u)))
      .sort((a, b) => b.path.length - a.path.length);
  }

  /** `Cookie` request header for `url`, or undefined when none applies. */
  header(url: string | URL): string | undefined {
    const list = this.cookiesFor(url);
    return list.length ? list.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** Value of the cookie `name` that would be sent to `url`. */
  get(url: string | URL, name: string): string | undefined {
    return this.cookiesFor(url).find((c) => c.name === name)?.value;
  }

  /** Every live cookie (copies). */
  all(): StoredCookie[] {
    this.purgeExpired();
    return this.cookies.map((c) => ({ ...c }));
  }

  /** Forgets every cookie, or only those of `url`'s host+port. */
  clear(url?: string | URL): void {
    this.cookies = url ? this.cookies.filter((c) => c.origin !== originKey(new URL(url))) : [];
  }

  private purgeExpired(): void {
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expiresAt === undefined || c.expiresAt > now);
  }
}
