/**
 * Request parameters of the OAuth endpoints (RFC 6749 §3.1: no duplicates, empty = absent,
 * unknown ignored) and client credentials from HTTP Basic (RFC 6749 §2.3.1: form-urlencoded
 * inside the base64).
 */
import { describe, expect, it } from 'vitest';
import { clientCredentials, pickParams, readForm, TOKEN_PARAMS } from '../../src/http/form.js';
import { OAuthError } from '../../src/oauth/errors.js';

describe('pickParams', () => {
  it('refuses a parameter sent twice (RFC 6749 §3.1)', () => {
    expect(() => pickParams(new URLSearchParams('code=a&code=b'), TOKEN_PARAMS)).toThrow(OAuthError);
  });

  it('treats empty parameters as absent and ignores unknown ones', () => {
    expect(pickParams(new URLSearchParams('code=&grant_type=authorization_code&foo=1&foo=2'), TOKEN_PARAMS)).toEqual({ grant_type: 'authorization_code' });
  });
});

describe('readForm', () => {
  it('requires application/x-www-form-urlencoded and caps the body at 64 KiB (413)', async () => {
    await expect(readForm(new Request('http://x/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))).rejects.toThrow(/x-www-form-urlencoded/);
    const big = new Request('http://x/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `code=${'a'.repeat(70_000)}` });
    const err = await readForm(big).catch((e: unknown) => e);
    expect((err as OAuthError).status).toBe(413);
  });
});

describe('clientCredentials', () => {
  it('decodes Basic credentials that were form-urlencoded (a secret may contain ":" or "+")', () => {
    const header = `Basic ${Buffer.from(`${encodeURIComponent('my client')}:${encodeURIComponent('s:e+c r%t')}`).toString('base64')}`;
    const c = clientCredentials(new Request('http://x', { headers: { authorization: header } }), {});
    expect(c.basic).toEqual({ clientId: 'my client', secret: 's:e+c r%t' });
  });

  it('refuses malformed Basic credentials with invalid_client and a Basic challenge', () => {
    const err = (() => {
      try {
        clientCredentials(new Request('http://x', { headers: { authorization: 'Basic bm9jb2xvbg==' } }), {});
      } catch (e) {
        return e as OAuthError;
      }
    })();
    expect(err?.error).toBe('invalid_client');
    expect(err?.headers['www-authenticate']).toContain('Basic');
  });
});
