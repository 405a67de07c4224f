/**
 * The official MCP SDK client (v1) signs in through the broker against the real Gitea test bed:
 * discovery from a 401 (RFC 9728), RFC 8414 metadata, dynamic registration (RFC 7591) or a client
 * ID metadata document, PKCE S256, the broker's consent page, Gitea login and approval, the
 * broker's forge callback, the token request — then /mcp accepts the token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { createPrivateKeyJwtAuth } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createServer, type Server } from 'node:http';
import { signInThroughBroker } from '../support/broker-consent.js';
import { HeadlessOAuthProvider } from '../support/oauth-client.js';
import { startOAuthBroker, type OAuthTestBroker } from '../support/oauth-broker.js';
import { sharedTestbed } from '../support/testbed.js';

const tb = sharedTestbed();
const CIMD_URL = 'https://cimd-client.test.example/oauth/client.json';
/** A client ID metadata document declaring private_key_jwt with its keys at jwks_uri (RFC 7523 §2.2). */
const PKJWT_URL = 'https://cimd-client.test.example/oauth/pkjwt-client.json';
const JWKS_URL = 'https://cimd-client.test.example/oauth/jwks.json';
let clientKey: { privateJwk: JWK; publicJwk: JWK; attackerJwk: JWK };
let broker: OAuthTestBroker;
let offsetMs = 0;
let cimdServer: Server;
let cimdPort = 0;
const REDIRECT = 'http://127.0.0.1:53682/callback';
let dcrProvider: HeadlessOAuthProvider;
let cimdProvider: HeadlessOAuthProvider;

/** Serves the CIMD document from loopback; the injected fetch maps the public-looking URL to it. */
const cimdFetch: typeof fetch = async (input, init) => {
  const u = new URL(String(input instanceof Request ? input.url : input));
  if (u.hostname !== 'cimd-client.test.example') throw new Error(`test CIMD fetch refuses ${u.hostname}`);
  return fetch(`http://127.0.0.1:${cimdPort}${u.pathname}`, init);
};

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  const attacker = await generateKeyPair('ES256', { extractable: true });
  clientKey = {
    privateJwk: { ...(await exportJWK(pair.privateKey)), kid: 'k1' },
    publicJwk: { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' },
    attackerJwk: { ...(await exportJWK(attacker.privateKey)), kid: 'k1' },
  };
  cimdServer = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'max-age=600');
    if (req.url === new URL(JWKS_URL).pathname) return void res.end(JSON.stringify({ keys: [clientKey.publicJwk] }));
    if (req.url === new URL(PKJWT_URL).pathname) {
      return void res.end(JSON.stringify({
        client_id: PKJWT_URL,
        client_name: 'private_key_jwt test client',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks_uri: JWKS_URL,
      }));
    }
    res.end(JSON.stringify({
      client_id: CIMD_URL,
      client_name: 'CIMD test client',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }));
  });
  await new Promise<void>((r) => cimdServer.listen(0, '127.0.0.1', () => r()));
  cimdPort = (cimdServer.address() as { port: number }).port;
  broker = await startOAuthBroker({ testbed: tb, cimdFetch, clock: () => Date.now() + offsetMs });
});
afterAll(async () => {
  await broker?.stop();
  cimdServer?.close();
});

async function importAttackerKey() {
  const { importJWK } = await import('jose');
  return importJWK(clientKey.attackerJwk, 'ES256');
}

async function whoami(provider: HeadlessOAuthProvider): Promise<Record<string, unknown>> {
  const client = new Client({ name: 'oauth-flow-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(broker.mcpUrl), { authProvider: provider }));
  const r = (await client.callTool({ name: 'whoami', arguments: {} })) as { content: { type: string; text: string }[] };
  await client.close();
  return JSON.parse(r.content[0]!.text) as Record<string, unknown>;
}

/** Runs the SDK's OAuth flow from a 401 to a token; @returns the provider holding the tokens. */
async function sdkSignIn(provider: HeadlessOAuthProvider, user: 'alice' | 'bob' = 'alice') {
  const transport = new StreamableHTTPClientTransport(new URL(broker.mcpUrl), { authProvider: provider });
  const client = new Client({ name: 'oauth-flow-test', version: '0.0.0' });
  await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.authorizationUrl?.href.startsWith(`${broker.url}/authorize?`)).toBe(true);
  const started = performance.now();
  const { location } = await signInThroughBroker(tb, broker.url, provider.authorizationUrl!, user);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  expect(location.searchParams.get('iss')).toBe(broker.url);
  expect(location.searchParams.get('state')).toBe(provider.authorizationUrl!.searchParams.get('state'));
  await transport.finishAuth(location.searchParams.get('code')!);
  return { ms: performance.now() - started };
}

describe('MCP SDK client OAuth flow against Gitea', () => {
  it('signs in with dynamic registration (RFC 7591), PKCE S256 and consent; /mcp accepts the token and yields the person', async () => {
    const provider = new HeadlessOAuthProvider({ redirectUrl: REDIRECT, clientName: 'SDK DCR test' });
    const { ms } = await sdkSignIn(provider);
    const info = provider.clientInformation();
    expect(info?.client_id).toMatch(/^mcpb_c_/);
    expect(provider.tokens()?.access_token).toMatch(/^mcpb_at_/);
    expect(provider.tokens()?.refresh_token).toMatch(/^mcpb_rt_/);
    const me = await whoami(provider);
    expect(me).toMatchObject({ login: 'alice', forgeUser: 'alice', clientId: info!.client_id, scopes: ['mcp'] });
    console.info(`DCR sign-in from authorization URL to code: ${ms.toFixed(0)} ms`);
    dcrProvider = provider;
  });

  it('signs in with a client ID metadata document as client_id (CIMD), fetched through the injected fetch', async () => {
    const provider = new HeadlessOAuthProvider({ redirectUrl: REDIRECT, clientMetadataUrl: CIMD_URL });
    await sdkSignIn(provider, 'bob');
    expect(provider.clientInformation()?.client_id).toBe(CIMD_URL);
    expect(provider.authorizationUrl!.searchParams.get('client_id')).toBe(CIMD_URL);
    const me = await whoami(provider);
    expect(me).toMatchObject({ login: 'bob', forgeUser: 'bob', clientId: CIMD_URL });
    cimdProvider = provider;
  });

  it('signs in with a client ID metadata document declaring private_key_jwt: the SDK authenticates with a signed client assertion (RFC 7523 §2.2), refreshes with a fresh one, and nothing else is accepted for that client', async () => {
    const signer = createPrivateKeyJwtAuth({ issuer: PKJWT_URL, subject: PKJWT_URL, privateKey: clientKey.privateJwk as Record<string, unknown>, alg: 'ES256' });
    const provider = new HeadlessOAuthProvider({ redirectUrl: REDIRECT, clientMetadataUrl: PKJWT_URL, addClientAuthentication: signer });
    await sdkSignIn(provider, 'alice');
    expect(await whoami(provider)).toMatchObject({ login: 'alice', clientId: PKJWT_URL });
    const refreshToken = provider.tokens()!.refresh_token!;

    const tokenRequest = async (extra: Record<string, string>) => {
      const res = await fetch(`${broker.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }),
      });
      return { status: res.status, body: (await res.json()) as { error?: string; error_description?: string } };
    };
    // Without an assertion, the client's id alone (as a public client would send it) is refused.
    const bare = await tokenRequest({ client_id: PKJWT_URL });
    expect(bare).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(bare.body.error_description).toContain('private_key_jwt');
    // An assertion signed by a key the client did not publish is refused.
    const sec = Math.floor(Date.now() / 1000) + Math.floor(offsetMs / 1000);
    const forged = await new SignJWT({ jti: 'forged-1' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(PKJWT_URL).setSubject(PKJWT_URL)
      .setAudience(broker.url).setIssuedAt(sec).setExpirationTime(sec + 60).sign(await importAttackerKey());
    const wrongKey = await tokenRequest({ client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: forged });
    expect(wrongKey).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(wrongKey.body.error_description).toContain('signature');

    // The refused attempts consumed nothing: the SDK refreshes with a new assertion.
    expect(await auth(provider, { serverUrl: broker.mcpUrl })).toBe('AUTHORIZED');
    expect(provider.tokens()!.refresh_token).not.toBe(refreshToken);
    expect(await whoami(provider)).toMatchObject({ login: 'alice', clientId: PKJWT_URL });

    // Revocation (RFC 7009 §2.1) authenticates the same way: with an assertion, the family ends.
    const revoke = new URLSearchParams({ token: provider.tokens()!.refresh_token! });
    await signer(new Headers(), revoke, new URL(`${broker.url}/revoke`), { issuer: broker.url } as never);
    const revoked = await fetch(`${broker.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: revoke });
    expect(revoked.status).toBe(200);
    const mcp = await fetch(broker.mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${provider.tokens()!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(mcp.status).toBe(401);
  });

  it('keeps both sign-ins across a broker restart: clients, grants and tokens survive', async () => {
    await broker.restart();
    expect(await whoami(dcrProvider)).toMatchObject({ login: 'alice' });
    expect(await whoami(cimdProvider)).toMatchObject({ login: 'bob' });
  });

  it('refreshes through the SDK (rotation), and a reuse of the old refresh token after the grace window kills the family', async () => {
    const before = dcrProvider.tokens()!;
    // With tokens saved, the SDK's auth() refreshes (RFC 6749 §6) instead of redirecting.
    expect(await auth(dcrProvider, { serverUrl: broker.mcpUrl })).toBe('AUTHORIZED');
    const after = dcrProvider.tokens()!;
    expect(after.refresh_token).toMatch(/^mcpb_rt_/);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(await whoami(dcrProvider)).toMatchObject({ login: 'alice' });

    offsetMs += 61_000; // past the default 60 s grace window
    const stale = { ...dcrProvider.tokens()!, refresh_token: before.refresh_token! };
    const thief = new HeadlessOAuthProvider({ redirectUrl: REDIRECT });
    thief.saveClientInformation(dcrProvider.clientInformation()!);
    thief.saveTokens(stale);
    // The refresh is refused (invalid_grant); the SDK drops the tokens and falls back to a new sign-in.
    expect(await auth(thief, { serverUrl: broker.mcpUrl })).toBe('REDIRECT');
    expect(broker.logLines.some((l) => l.includes('"event":"family.revoked"'))).toBe(true);
    // The whole family is revoked: the legitimate holder's newest tokens are dead too.
    const res = await fetch(broker.mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${after.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(res.status).toBe(401);
  });
});
