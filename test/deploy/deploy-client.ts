/**
 * @module test/deploy/deploy-client
 * The MCP client side of the deployment tests (caddy-e2e, init), run as its own process so that
 * Node trusts Caddy's internal root CA through NODE_EXTRA_CA_CERTS (read only at process start)
 * for every fetch: the SDK client's and the headless browser's. Talks only to the broker's public
 * URL. Prints one JSON object per line on stdout; the tests assert on them.
 *
 *   E2E_MODE=signin  E2E_PUBLIC_URL E2E_TESTBED(JSON) [E2E_TOOL (default echo)]
 *                    → {event:'signed-in', accessToken, tools, toolText, …}
 *   E2E_MODE=call    E2E_PUBLIC_URL E2E_ACCESS_TOKEN E2E_DURATION_S E2E_STEPS [E2E_TIMEOUT_S]
 *                    [E2E_RESUME=off: a cut stream is not resumed with Last-Event-ID]
 *                    → {event:'call-start'}, {event:'progress', …}*, {event:'result'|'error', …}
 * Every event carries `t`, milliseconds since the process's start of the phase.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { signInThroughBroker } from '../support/broker-consent.js';
import { HeadlessOAuthProvider } from '../support/oauth-client.js';
import type { Testbed } from '../support/testbed.js';

const t0 = performance.now();
const emit = (event: string, data: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, t: Math.round(performance.now() - t0), ...data })}\n`);

const publicUrl = process.env.E2E_PUBLIC_URL!;
const mcpUrl = new URL(`${publicUrl}/mcp`);
const REDIRECT = 'http://127.0.0.1:53682/callback';

async function signin(): Promise<void> {
  const tb = JSON.parse(process.env.E2E_TESTBED!) as Testbed;
  const meta = (await (await fetch(`${publicUrl}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
  const prm = (await (await fetch(`${publicUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string };
  const provider = new HeadlessOAuthProvider({ redirectUrl: REDIRECT, clientName: 'caddy e2e client' });
  const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
  const client = new Client({ name: 'caddy-e2e', version: '0.0.0' });
  try {
    await client.connect(transport);
    throw new Error('connected without signing in');
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
  }
  const authorizationUrl = provider.authorizationUrl!;
  const { location } = await signInThroughBroker(tb, publicUrl, authorizationUrl, 'alice');
  await transport.finishAuth(location.searchParams.get('code')!);
  // A fresh connection with the token: initialize and list tools over HTTPS through Caddy.
  const c2 = new Client({ name: 'caddy-e2e', version: '0.0.0' });
  await c2.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  const tools = await c2.listTools();
  const tool = process.env.E2E_TOOL ?? 'echo';
  const called = (await c2.callTool({ name: tool, arguments: tool === 'echo' ? { message: 'through caddy' } : {} })) as { content: { text: string }[] };
  await c2.close();
  emit('signed-in', {
    issuer: meta.issuer,
    resource: prm.resource,
    authorizationUrl: authorizationUrl.href,
    callbackIss: location.searchParams.get('iss'),
    accessToken: provider.tokens()!.access_token,
    tools: tools.tools.map((t) => t.name),
    toolText: called.content[0]?.text,
  });
}

async function call(): Promise<void> {
  const token = process.env.E2E_ACCESS_TOKEN!;
  const duration = Number(process.env.E2E_DURATION_S);
  const steps = Number(process.env.E2E_STEPS);
  const client = new Client({ name: 'caddy-e2e', version: '0.0.0' });
  // With E2E_RESUME=off the client does not reconnect a cut stream (the SDK's default resumes it
  // with Last-Event-ID, and the broker replays what was missed): what a cut looks like unrepaired.
  const noResume = process.env.E2E_RESUME === 'off'
    ? { reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 30_000, reconnectionDelayGrowFactor: 1.5 } }
    : {};
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } }, ...noResume }));
  emit('call-start');
  try {
    const r = (await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration, steps } }, undefined, {
      onprogress: (p) => emit('progress', { progress: p.progress, total: p.total }),
      timeout: Number(process.env.E2E_TIMEOUT_S ?? duration + 30) * 1000,
    })) as { content: { text: string }[] };
    emit('result', { text: r.content[0]?.text });
  } catch (err) {
    emit('error', { message: (err as Error).message });
  }
  await client.close().catch(() => undefined);
}

const mode = process.env.E2E_MODE;
(mode === 'signin' ? signin() : mode === 'call' ? call() : Promise.reject(new Error(`E2E_MODE ${mode}?`))).then(
  () => process.exit(0),
  (err: unknown) => {
    emit('fatal', { message: (err as Error).stack ?? String(err) });
    process.exit(1);
  },
);
