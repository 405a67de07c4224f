/**
 * The MCP TypeScript SDK v2 client (@modelcontextprotocol/client) signs in through the broker
 * against the real Gitea test bed. v2 is stricter than v1: it rejects AS metadata whose issuer
 * differs from the URL it built (RFC 8414 §3.3) and validates the `iss` of the authorization
 * response (RFC 9207 §2.4) in finishAuth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { signInThroughBroker } from '../support/broker-consent.js';
import { HeadlessOAuthProvider } from '../support/oauth-client.js';
import { startOAuthBroker, type OAuthTestBroker } from '../support/oauth-broker.js';
import { sharedTestbed } from '../support/testbed.js';

const tb = sharedTestbed();
let broker: OAuthTestBroker;
const REDIRECT = 'http://127.0.0.1:53683/callback';

beforeAll(async () => {
  broker = await startOAuthBroker({ testbed: tb });
});
afterAll(async () => broker?.stop());

/** The v1 headless provider plus the discovery-state hooks v2 uses to check `iss`. */
class HeadlessV2Provider extends HeadlessOAuthProvider {
  private discovery: unknown;
  saveDiscoveryState(state: unknown) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery as never;
  }
}

describe('MCP SDK v2 client OAuth flow against Gitea', () => {
  it('signs in (DCR, PKCE, consent, Gitea), passes the v2 issuer and RFC 9207 iss checks, and calls /mcp', async () => {
    const provider = new HeadlessV2Provider({ redirectUrl: REDIRECT, clientName: 'SDK v2 test' });
    const transport = new StreamableHTTPClientTransport(new URL(broker.mcpUrl), { authProvider: provider as never });
    const client = new Client({ name: 'oauth-v2-test', version: '0.0.0' });
    await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    const { location } = await signInThroughBroker(tb, broker.url, provider.authorizationUrl!, 'alice');
    expect(location.searchParams.get('iss')).toBe(broker.url);
    await transport.finishAuth(location.searchParams);
    const c2 = new Client({ name: 'oauth-v2-test', version: '0.0.0' });
    await c2.connect(new StreamableHTTPClientTransport(new URL(broker.mcpUrl), { authProvider: provider as never }));
    const r = (await c2.callTool({ name: 'whoami', arguments: {} })) as { content: { text: string }[] };
    expect(JSON.parse(r.content[0]!.text)).toMatchObject({ login: 'alice', forgeUser: 'alice' });
    await c2.close();
  });
});
