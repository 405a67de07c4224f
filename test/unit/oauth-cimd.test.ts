/**
 * Client ID metadata documents (CIMD): fetch limits (no redirects, 5 KB, status), the document's
 * client_id must equal its URL, cache per Cache-Control, and the shipped Claude / Claude Code
 * seeds standing in when the vendor's CDN refuses us.
 */
import { describe, expect, it } from 'vitest';
import { cacheSeconds, CIMD_MAX_CACHE_S, CIMD_MAX_SIZE_BYTES, cimdUrlProblem, fetchDocument } from '../../src/oauth/cimd.js';
import { createClientRegistry } from '../../src/oauth/clients.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { silentLogger } from '../../src/ops/log.js';
import { createClientStore } from '../../src/store/clients.js';
import { openDb } from '../../src/store/db.js';

const URL_ID = 'https://app.example/oauth/client.json';
const doc = (over: Record<string, unknown> = {}) => ({ client_id: URL_ID, client_name: 'App', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none', ...over });
const respond = (body: string, init: ResponseInit = {}): typeof fetch => async () => new Response(body, { status: 200, headers: { 'content-type': 'application/json' }, ...init });

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(OAuthError);
  expect((err as OAuthError).error).toBe('invalid_client');
  return (err as OAuthError).description;
}

describe('fetchDocument (CIMD §4, §6)', () => {
  it('accepts a valid document and caches it per max-age', async () => {
    const d = await fetchDocument(URL_ID, respond(JSON.stringify(doc()), { headers: { 'cache-control': 'max-age=120' } }), 1_000);
    expect(d.metadata.redirect_uris).toEqual(['https://app.example/cb']);
    expect(d.freshUntil).toBe(1_000 + 120_000);
  });

  it('refuses a redirect instead of following it', async () => {
    const f: typeof fetch = async (_u, init) => {
      expect(init?.redirect).toBe('manual');
      return new Response(null, { status: 302, headers: { location: 'https://127.0.0.1/doc' } });
    };
    expect(await refusal(fetchDocument(URL_ID, f, 0))).toContain('redirect');
  });

  it('refuses a document larger than 5 KB, declared or streamed', async () => {
    const big = JSON.stringify(doc({ client_name: 'x'.repeat(CIMD_MAX_SIZE_BYTES) }));
    expect(await refusal(fetchDocument(URL_ID, respond(big), 0))).toContain('larger than');
    const streamed: typeof fetch = async () => new Response(new Blob([big]).stream(), { status: 200 });
    expect(await refusal(fetchDocument(URL_ID, streamed, 0))).toContain('larger than');
  });

  it('refuses a document whose client_id differs from its URL', async () => {
    expect(await refusal(fetchDocument(URL_ID, respond(JSON.stringify(doc({ client_id: 'https://app.example/other' }))), 0))).toContain('different client_id');
  });

  it('refuses non-200 answers, non-JSON, secrets and confidential auth methods', async () => {
    await refusal(fetchDocument(URL_ID, respond('{}', { status: 404 }), 0));
    await refusal(fetchDocument(URL_ID, respond('<html>'), 0));
    await refusal(fetchDocument(URL_ID, respond(JSON.stringify(doc({ client_secret: 's' }))), 0));
    await refusal(fetchDocument(URL_ID, respond(JSON.stringify(doc({ token_endpoint_auth_method: 'client_secret_basic' }))), 0));
    await refusal(fetchDocument(URL_ID, respond(JSON.stringify(doc({ redirect_uris: ['https://a@evil.example/cb'] }))), 0));
  });

  it('refuses a failing fetch (e.g. the SSRF guard) as invalid_client', async () => {
    await refusal(fetchDocument(URL_ID, async () => { throw new Error('refused'); }, 0));
  });

  it('refuses malformed client id URLs', () => {
    expect(cimdUrlProblem('https://app.example/')).toBeDefined();
    expect(cimdUrlProblem('https://u@app.example/doc')).toBeDefined();
    expect(cimdUrlProblem('https://app.example/a/../doc')).toBeDefined();
    expect(cimdUrlProblem('https://app.example/doc#x')).toBeDefined();
    expect(cimdUrlProblem(URL_ID)).toBeUndefined();
  });

  it('bounds the cache lifetime to 7 days and honours no-store', () => {
    expect(cacheSeconds('max-age=99999999')).toBe(CIMD_MAX_CACHE_S);
    expect(cacheSeconds('no-store')).toBe(0);
    expect(cacheSeconds('public, max-age=60')).toBe(60);
  });
});

describe('client registry with CIMD', () => {
  const setup = (fetchFn: typeof fetch) => {
    let now = 1_000_000;
    const store = createClientStore(openDb(':memory:'));
    const reg = createClientRegistry({ store, cimdFetch: fetchFn, log: silentLogger, now: () => now, assertionAudiences: ['https://broker.example'] });
    return { reg, advance: (ms: number) => (now += ms) };
  };

  it('fetches once, serves from the cache while fresh, and refetches after max-age', async () => {
    let fetches = 0;
    const { reg, advance } = setup(async () => {
      fetches++;
      return new Response(JSON.stringify(doc()), { status: 200, headers: { 'cache-control': 'max-age=60' } });
    });
    await reg.resolve(URL_ID);
    await reg.resolve(URL_ID);
    expect(fetches).toBe(1);
    advance(61_000);
    await reg.resolve(URL_ID);
    expect(fetches).toBe(2);
  });

  it('uses the shipped Claude, Claude Code and ChatGPT documents when the vendor CDN refuses the fetch', async () => {
    const { reg } = setup(async () => new Response('challenge', { status: 403 }));
    const claude = await reg.resolve('https://claude.ai/oauth/mcp-oauth-client-metadata');
    expect(claude.metadata.redirect_uris).toEqual(['https://claude.ai/api/mcp/auth_callback']);
    expect(reg.isNameVerified(claude, 'https://claude.ai/api/mcp/auth_callback')).toBe(true);
    const code = await reg.resolve('https://claude.ai/oauth/claude-code-client-metadata');
    expect(code.metadata.redirect_uris).toContain('http://localhost/callback');
    const chatgpt = await reg.resolve('https://chatgpt.com/oauth/client.json');
    expect(chatgpt.metadata.redirect_uris).toEqual(['https://chatgpt.com/connector_platform_oauth_redirect']);
    expect(chatgpt.metadata.token_endpoint_auth_method).toBe('none');
    expect(reg.isNameVerified(chatgpt, 'https://chatgpt.com/connector_platform_oauth_redirect')).toBe(true);
  });

  it('does not fall back to a stale copy for other clients: a withdrawn document ends the client', async () => {
    let ok = true;
    const { reg, advance } = setup(async () => (ok ? new Response(JSON.stringify(doc()), { status: 200, headers: { 'cache-control': 'max-age=60' } }) : new Response('gone', { status: 404 })));
    await reg.resolve(URL_ID);
    ok = false;
    advance(61_000);
    await refusal(reg.resolve(URL_ID));
  });

  it('marks a CIMD name verified only when the document host is the redirect host', async () => {
    const { reg } = setup(respond(JSON.stringify(doc({ redirect_uris: ['https://app.example/cb', 'https://elsewhere.example/cb'] }))));
    const c = await reg.resolve(URL_ID);
    expect(reg.isNameVerified(c, 'https://app.example/cb')).toBe(true);
    expect(reg.isNameVerified(c, 'https://elsewhere.example/cb')).toBe(false);
  });
});

describe('client authentication of CIMD clients', () => {
  it('authenticates a known CIMD client from the stored copy, without refetching at the token endpoint', async () => {
    let fetches = 0;
    let now = 1_000_000;
    const store = createClientStore(openDb(':memory:'));
    const reg = createClientRegistry({ store, log: silentLogger, now: () => now, assertionAudiences: ['https://broker.example'], cimdFetch: async () => {
      fetches++;
      if (fetches > 1) throw new Error('network down');
      return new Response(JSON.stringify(doc()), { status: 200, headers: { 'cache-control': 'no-store' } });
    } });
    await reg.resolve(URL_ID);
    now += 1000;
    const c = await reg.authenticate({ clientId: URL_ID });
    expect(c.clientId).toBe(URL_ID);
    expect(fetches).toBe(1);
  });
});
