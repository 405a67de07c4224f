/**
 * @module test/support/raw-mcp — a minimal streamable-HTTP MCP client on plain fetch, for tests
 * that must watch one request or one SSE stream exactly (its status, when a stream ends):
 * initialize, calls, and a standalone GET stream whose end is observable.
 */
import { createHash } from 'node:crypto';
import type { HeadlessBrowser } from './headless-browser.js';
import { authorizeUrl, pkcePair, signInThroughBroker, tokenRequest, type ManualClient } from './broker-consent.js';
import type { Testbed, TestbedUser } from './testbed.js';

const PROTOCOL = '2025-06-18';

export interface RawSession {
  sessionId: string;
  /** POSTs one request; resolves with the status and the body text (SSE or JSON). */
  call(method: string, params?: unknown): Promise<{ status: number; text: string }>;
  /** Opens the standalone GET stream; `ended` resolves (ms since the epoch) when the broker closes it. */
  openStream(): Promise<{ status: number; ended: Promise<number> }>;
}

let nextId = 1;

/** Initializes a session with `accessToken` at `mcpUrl`. @throws when the broker refuses. */
export async function rawSession(mcpUrl: string, accessToken: string): Promise<RawSession> {
  const headers = (sid?: string): Record<string, string> => ({
    authorization: `Bearer ${accessToken}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': PROTOCOL } : {}),
  });
  const init = await fetch(mcpUrl, {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'raw-mcp', version: '0' } } }),
  });
  const initText = await init.text();
  const sessionId = init.headers.get('mcp-session-id');
  if (init.status !== 200 || !sessionId) throw new Error(`initialize refused: ${init.status} ${initText.slice(0, 300)}`);
  await (await fetch(mcpUrl, { method: 'POST', headers: headers(sessionId), body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
  return {
    sessionId,
    async call(method, params = {}) {
      const res = await fetch(mcpUrl, { method: 'POST', headers: headers(sessionId), body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }) });
      return { status: res.status, text: await res.text() };
    },
    async openStream() {
      const res = await fetch(mcpUrl, { method: 'GET', headers: { ...headers(sessionId), accept: 'text/event-stream' } });
      const reader = res.body!.getReader();
      const ended = (async () => {
        try {
          for (;;) if ((await reader.read()).done) break;
        } catch {
          /* a reset connection ends the stream too */
        }
        return Date.now();
      })();
      return { status: res.status, ended };
    },
  };
}

/**
 * Signs `user` in through the broker with an existing client (so several people can share one
 * client) and exchanges the code. @throws when the sign-in or the exchange fails.
 */
export async function signInWithClient(
  tb: Testbed,
  brokerUrl: string,
  client: ManualClient,
  user: TestbedUser,
): Promise<{ accessToken: string; refreshToken: string; browser: HeadlessBrowser }> {
  const { verifier, challenge } = pkcePair();
  const r = await signInThroughBroker(tb, brokerUrl, authorizeUrl(brokerUrl, client, challenge), user);
  const code = r.location.searchParams.get('code');
  if (!code) throw new Error(`no code: ${r.location.href}`);
  const t = await tokenRequest(brokerUrl, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.clientId, redirect_uri: client.redirectUri, resource: `${brokerUrl}/mcp` });
  if (t.status !== 200) throw new Error(`token failed: ${t.status} ${JSON.stringify(t.body)}`);
  return { accessToken: t.body.access_token as string, refreshToken: t.body.refresh_token as string, browser: r.browser };
}

/** Short fingerprint of a secret for assertions that must not print it. */
export const fingerprint = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);
