/**
 * @module http/cookies
 * The per-transaction browser-binding cookie: `__Host-` prefixed (RFC 6265bis §4.1.3.2: Secure,
 * Path=/, no Domain), HttpOnly, SameSite=Lax (it must survive the top-level GET back from the
 * forge), one per transaction so parallel sign-ins in one browser do not clobber each other.
 */

/** Lifetime of the cookie, in seconds: consent plus the forge round trip. */
export const TX_COOKIE_MAX_AGE_S = 1200;

/** Parses a `Cookie` header into name → value (first occurrence wins). */
export function parseCookies(header: string | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 1) continue;
    const name = part.slice(0, i).trim();
    if (!out.has(name)) out.set(name, part.slice(i + 1).trim());
  }
  return out;
}

export function setTxCookie(name: string, value: string): string {
  return `${name}=${value}; Max-Age=${TX_COOKIE_MAX_AGE_S}; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

export function clearTxCookie(name: string): string {
  return `${name}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax`;
}
