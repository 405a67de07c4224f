/**
 * `private_key_jwt` client authentication (RFC 7523 §2.2, §3; RFC 7521 §4.2) for clients whose
 * client ID metadata document declares it: keys inline (`jwks`) or at `jwks_uri`, every §3 claim
 * check, one use per `jti`, key rotation, and the refusals around it (a public client sending an
 * assertion, a private_key_jwt client sending none, two methods at once, DCR asking for it).
 */
import { describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { CLIENT_ASSERTION_TYPE, JWKS_REFETCH_MIN_MS, MAX_ASSERTION_LIFETIME_S } from '../../src/oauth/client-assertion.js';
import { parseClientMetadata } from '../../src/oauth/client-metadata.js';
import { createClientRegistry, type PresentedCredentials } from '../../src/oauth/clients.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { authorizationServerMetadata } from '../../src/oauth/metadata.js';
import { silentLogger } from '../../src/ops/log.js';
import { createClientStore } from '../../src/store/clients.js';
import { openDb } from '../../src/store/db.js';
import type { Config } from '../../src/config.js';

const ISSUER = 'https://broker.example';
const CLIENT = 'https://agent.example/oauth/client.json';
const JWKS_URI = 'https://agent.example/oauth/jwks.json';
const T0 = 1_800_000_000_000;

async function keyPair(kid: string): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

interface Claims { iss?: string; sub?: string; aud?: string | string[]; exp?: number; iat?: number; jti?: string | undefined }
let n = 0;
async function assertion(key: CryptoKey, kid: string, now: number, over: Claims = {}, alg = 'ES256'): Promise<string> {
  const claims: Claims = { iss: CLIENT, sub: CLIENT, aud: ISSUER, exp: Math.floor(now / 1000) + 300, iat: Math.floor(now / 1000), jti: `jti-${++n}`, ...over };
  return new SignJWT(JSON.parse(JSON.stringify(claims)) as Record<string, unknown>).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
}

const doc = (keys: Record<string, unknown>) => ({ client_id: CLIENT, client_name: 'Agent', redirect_uris: ['https://agent.example/cb'], token_endpoint_auth_method: 'private_key_jwt', ...keys });

function setup(routes: Record<string, () => Response>) {
  let now = T0;
  const fetched: string[] = [];
  const store = createClientStore(openDb(':memory:'));
  const reg = createClientRegistry({
    store,
    log: silentLogger,
    now: () => now,
    assertionAudiences: [ISSUER, `${ISSUER}/token`, `${ISSUER}/revoke`],
    cimdFetch: async (input) => {
      const url = String(input);
      fetched.push(url);
      const route = routes[url];
      if (!route) throw new Error(`no route for ${url}`);
      return route();
    },
  });
  return { reg, store, fetched, now: () => now, advance: (ms: number) => (now += ms) };
}

const json = (body: unknown, cacheControl = 'max-age=3600') => () => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', 'cache-control': cacheControl } });
const withAssertion = (jwt: string, over: Partial<PresentedCredentials> = {}): PresentedCredentials => ({ assertion: { type: CLIENT_ASSERTION_TYPE, jwt }, ...over });

async function refusal(p: Promise<unknown>, error = 'invalid_client'): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(OAuthError);
  expect((err as OAuthError).error).toBe(error);
  return (err as OAuthError).description;
}

describe('private_key_jwt with keys inline in the client ID metadata document (RFC 7523 §2.2)', () => {
  it('authenticates a client by an assertion signed with its key, aud = the issuer or the endpoint URL, without client_id (RFC 7521 §4.2)', async () => {
    const k = await keyPair('k1');
    const t = setup({ [CLIENT]: json(doc({ jwks: { keys: [k.jwk] } })) });
    const client = await t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now())));
    expect(client).toMatchObject({ clientId: CLIENT, source: 'cimd', secretHash: null });
    await t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now(), { aud: `${ISSUER}/token` }), { clientId: CLIENT }));
  });

  it('accepts each assertion once: a replayed jti is invalid_client (RFC 7523 §3 item 7)', async () => {
    const k = await keyPair('k1');
    const t = setup({ [CLIENT]: json(doc({ jwks: { keys: [k.jwk] } })) });
    const jwt = await assertion(k.privateKey, 'k1', t.now());
    await t.reg.authenticate(withAssertion(jwt));
    expect(await refusal(t.reg.authenticate(withAssertion(jwt)))).toContain('jti was already used');
  });

  it('refuses an assertion failing any RFC 7523 §3 check: signature, iss, sub, aud, exp, lifetime, iat, jti, algorithm', async () => {
    const k = await keyPair('k1');
    const other = await keyPair('k1');
    const t = setup({ [CLIENT]: json(doc({ jwks: { keys: [k.jwk] } })) });
    const sec = Math.floor(t.now() / 1000);
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(other.privateKey, 'k1', t.now()))))).toContain('signature does not verify');
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now(), { iss: 'https://evil.example/c.json' }), { clientId: CLIENT })))).toContain('iss claim');
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now(), { sub: 'someone-else' }), { clientId: CLIENT })))).toContain('sub claim');
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now(), { aud: 'https://other-as.example' }))))).toContain('aud claim');
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now(), { exp: sec - 120 }))))).toContain('expired');
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now(), { exp: sec + MAX_ASSERTION_LIFETIME_S + 600 }))))).toContain('exp is more than');
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now(), { iat: sec + 600 }))))).toContain('iat');
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now(), { jti: undefined }))))).toContain('jti claim is missing');
    const hs = new SignJWT({ iss: CLIENT, sub: CLIENT, aud: ISSUER, exp: sec + 60, jti: 'hs' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('a shared secret of thirty-two bytes!'));
    expect(await refusal(t.reg.authenticate(withAssertion(await hs)))).toContain('algorithm is not allowed');
    expect(await refusal(t.reg.authenticate(withAssertion('not.a.jwt')))).toContain('sub claim');
  });

  it('holds a client to the algorithm its document declares (token_endpoint_auth_signing_alg)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('PS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'r1' };
    const t = setup({ [CLIENT]: json(doc({ jwks: { keys: [jwk] }, token_endpoint_auth_signing_alg: 'ES256' })) });
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(privateKey, 'r1', t.now(), {}, 'PS256'))))).toContain('algorithm is not allowed');
  });

  it('refuses a private_key_jwt client that sends no assertion, and a public client that sends one', async () => {
    const k = await keyPair('k1');
    const PUBLIC = 'https://public.example/client.json';
    const t = setup({
      [CLIENT]: json(doc({ jwks: { keys: [k.jwk] } })),
      [PUBLIC]: json({ client_id: PUBLIC, redirect_uris: ['https://public.example/cb'], token_endpoint_auth_method: 'none' }),
    });
    await t.reg.resolve(CLIENT);
    expect(await refusal(t.reg.authenticate({ clientId: CLIENT }))).toContain('send client_assertion');
    await t.reg.resolve(PUBLIC);
    const forPublic = await new SignJWT({ iss: PUBLIC, sub: PUBLIC, aud: ISSUER, exp: Math.floor(t.now() / 1000) + 60, jti: 'p' }).setProtectedHeader({ alg: 'ES256' }).sign(k.privateKey);
    expect(await refusal(t.reg.authenticate(withAssertion(forPublic)))).toContain('does not authenticate with private_key_jwt');
  });

  it('refuses two methods at once, a lone assertion parameter and an unknown assertion type (RFC 6749 §2.3, RFC 7521 §4.2)', async () => {
    const k = await keyPair('k1');
    const t = setup({ [CLIENT]: json(doc({ jwks: { keys: [k.jwk] } })) });
    const jwt = await assertion(k.privateKey, 'k1', t.now());
    expect(await refusal(t.reg.authenticate(withAssertion(jwt, { secret: 's' })), 'invalid_request')).toContain('one client authentication method');
    await refusal(t.reg.authenticate({ assertion: { type: undefined, jwt } }), 'invalid_request');
    expect(await refusal(t.reg.authenticate({ assertion: { type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer', jwt } }))).toContain('client_assertion_type');
  });
});

describe('private_key_jwt with keys at jwks_uri', () => {
  it('fetches the JWK Set once while fresh, and refetches once when an assertion names a rotated-in kid', async () => {
    const k1 = await keyPair('k1');
    const k2 = await keyPair('k2');
    let published = [k1.jwk];
    const t = setup({ [CLIENT]: json(doc({ jwks_uri: JWKS_URI })), [JWKS_URI]: () => json({ keys: published })() });
    await t.reg.authenticate(withAssertion(await assertion(k1.privateKey, 'k1', t.now())));
    await t.reg.authenticate(withAssertion(await assertion(k1.privateKey, 'k1', t.now())));
    expect(t.fetched.filter((u) => u === JWKS_URI)).toHaveLength(1);
    published = [k1.jwk, k2.jwk];
    t.advance(JWKS_REFETCH_MIN_MS);
    await t.reg.authenticate(withAssertion(await assertion(k2.privateKey, 'k2', t.now())));
    expect(t.fetched.filter((u) => u === JWKS_URI)).toHaveLength(2);
  });

  it('does not let forged kids drive fetches: an unknown kid refetches at most once a minute', async () => {
    const k1 = await keyPair('k1');
    const stranger = await keyPair('zz');
    const t = setup({ [CLIENT]: json(doc({ jwks_uri: JWKS_URI })), [JWKS_URI]: json({ keys: [k1.jwk] }) });
    await t.reg.authenticate(withAssertion(await assertion(k1.privateKey, 'k1', t.now())));
    t.advance(JWKS_REFETCH_MIN_MS);
    for (let i = 0; i < 3; i++) expect(await refusal(t.reg.authenticate(withAssertion(await assertion(stranger.privateKey, 'zz', t.now()))))).toContain('no key');
    expect(t.fetched.filter((u) => u === JWKS_URI)).toHaveLength(2);
  });

  it('refuses a JWK Set that is not one, holds a private key, or answers non-200', async () => {
    const k = await keyPair('k1');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const priv = { ...(await exportJWK(privateKey)), kid: 'k1' };
    for (const [body, expected] of [[{ nope: 1 }, 'not a JWK Set'], [{ keys: [priv] }, 'public keys only']] as const) {
      const t = setup({ [CLIENT]: json(doc({ jwks_uri: JWKS_URI })), [JWKS_URI]: json(body) });
      expect(await refusal(t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now()))))).toContain(expected);
    }
    const t = setup({ [CLIENT]: json(doc({ jwks_uri: JWKS_URI })), [JWKS_URI]: () => new Response('gone', { status: 404 }) });
    expect(await refusal(t.reg.authenticate(withAssertion(await assertion(k.privateKey, 'k1', t.now()))))).toContain('HTTP 404');
  });
});

describe('declaring private_key_jwt', () => {
  it('a document needs exactly one of jwks and jwks_uri, https, with public asymmetric keys', async () => {
    const k = await keyPair('k1');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'exactly one of jwks_uri and jwks'],
      [{ jwks: { keys: [k.jwk] }, jwks_uri: JWKS_URI }, 'exactly one of jwks_uri and jwks'],
      [{ jwks_uri: 'http://agent.example/jwks.json' }, 'https'],
      [{ jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'RSA, EC or OKP'],
      [{ jwks: { keys: [await exportJWK(privateKey)] } }, 'public keys only'],
      [{ jwks_uri: JWKS_URI, token_endpoint_auth_signing_alg: 'HS256' }, 'token_endpoint_auth_signing_alg'],
    ];
    for (const [keys, expected] of cases) {
      const t = setup({ [CLIENT]: json(doc(keys)) });
      expect(await refusal(t.reg.resolve(CLIENT))).toContain(expected);
    }
  });

  it('dynamic registration may not choose private_key_jwt (RFC 7591 §2: the server lists what it accepts)', () => {
    const err = (() => {
      try {
        parseClientMetadata({ redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: JWKS_URI }, 'client_secret_basic');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).error).toBe('invalid_client_metadata');
  });

  it('the authorization server metadata lists private_key_jwt and the signing algorithms (RFC 8414 §2)', () => {
    const m = authorizationServerMetadata({ issuer: ISSUER } as Config);
    expect(m.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(m.token_endpoint_auth_signing_alg_values_supported).toContain('ES256');
    expect(m.token_endpoint_auth_signing_alg_values_supported).not.toContain('HS256');
  });
});
