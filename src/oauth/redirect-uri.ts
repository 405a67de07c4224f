/**
 * @module oauth/redirect-uri
 * Redirect URI rules, parsed with the WHATWG URL parser (never regexes or prefixes): https, or
 * http on a loopback address (RFC 8252 §7.3, §8.3); no userinfo, no fragment (RFC 6749 §3.1.2).
 * Matching is exact string comparison (OAuth 2.1 §2.3.1), except that a loopback redirect URI
 * matches on any port (RFC 8252 §7.3).
 */
import { isLoopbackHost } from '../config.js';

/** Longest redirect URI accepted, in characters. */
export const MAX_REDIRECT_URI_LENGTH = 2000;

/** Why a redirect URI is unacceptable, or undefined when it is fine. */
export function redirectUriProblem(raw: string): string | undefined {
  if (raw.length > MAX_REDIRECT_URI_LENGTH) return `is longer than ${MAX_REDIRECT_URI_LENGTH} characters`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not an absolute URL';
  }
  if (u.username || u.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(raw)) return 'must not contain userinfo';
  if (u.hash || raw.includes('#')) return 'must not contain a fragment';
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:') return isLoopbackHost(u.hostname) ? undefined : 'must use https unless its host is loopback';
  return `uses the unsupported scheme ${u.protocol.replace(/:$/, '')}`;
}

/** True if `raw` parses and is http on a loopback host (port-agnostic matching applies). */
export function isLoopbackRedirect(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' && isLoopbackHost(u.hostname);
  } catch {
    return false;
  }
}

/**
 * Whether the requested redirect URI is one of the registered ones: exact string equality, or for
 * a registered loopback URI the same scheme, host, path and query with any port.
 */
export function matchRedirectUri(registered: readonly string[], requested: string): boolean {
  if (redirectUriProblem(requested)) return false;
  for (const r of registered) {
    if (r === requested) return true;
    if (isLoopbackRedirect(r) && isLoopbackRedirect(requested)) {
      const a = new URL(r);
      const b = new URL(requested);
      if (a.hostname === b.hostname && a.pathname === b.pathname && a.search === b.search) return true;
    }
  }
  return false;
}

/** Host (with port) shown on the consent page for a redirect URI. */
export function redirectHost(raw: string): string {
  return new URL(raw).host;
}
