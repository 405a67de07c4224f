/**
 * @module test/support/mcp-sign-in — an official MCP SDK client (v1) that signs in to the full
 * broker the way a person would: the SDK's OAuth flow from the first 401 (discovery, dynamic
 * registration, PKCE), then the broker's consent page and Gitea's login and approval, driven by
 * `authorize` (headless by default; the browser test passes a playwright driver).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { HeadlessOAuthProvider } from './oauth-client.js';
import { signInThroughBroker } from './broker-consent.js';
import type { Testbed, TestbedUser } from './testbed.js';

/** Where the client says it wants the code; never fetched (the driver stops there). */
export const CLIENT_REDIRECT = 'http://127.0.0.1:9/callback';

/** Drives an authorization URL to the client's redirect; returns that redirect URL. */
export type AuthorizeDriver = (authorizationUrl: URL, user: TestbedUser) => Promise<URL>;

export function headlessDriver(tb: Testbed, brokerUrl: string): AuthorizeDriver {
  return async (url, user) => (await signInThroughBroker(tb, brokerUrl, url, user)).location;
}

export interface SignedInClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  provider: HeadlessOAuthProvider;
  close(): Promise<void>;
}

/** Signs `user` in through the broker and returns a connected MCP client. */
export async function signedInClient(mcpUrl: string, user: TestbedUser, authorize: AuthorizeDriver): Promise<SignedInClient> {
  const provider = new HeadlessOAuthProvider({ redirectUrl: CLIENT_REDIRECT, clientName: `e2e client of ${user}` });
  const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const probe = new Client({ name: 'fjmcp-e2e', version: '0.0.0' });
  try {
    await probe.connect(first);
    throw new Error('the broker let an unauthenticated client connect');
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
  }
  const redirect = await authorize(provider.authorizationUrl!, user);
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`sign-in ended without a code: ${redirect.href}`);
  await first.finishAuth(code);
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const client = new Client({ name: 'fjmcp-e2e', version: '0.0.0' });
  await client.connect(transport);
  return { client, transport, provider, close: () => client.close() };
}

/** The text parts of a tool result, joined. */
export function toolText(result: object): string {
  const content = ((result as { content?: unknown }).content ?? []) as Array<{ type: string; text?: string }>;
  return content.map((c) => (c.type === 'text' ? (c.text ?? '') : '')).join('\n');
}
