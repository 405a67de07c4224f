/**
 * @module test/support/oauth-broker — the authorization server in process for OAuth flow
 * tests: the real forge client and forge tokens against a test-bed Gitea, the real OAuth routes,
 * and a minimal `/mcp` (the bearer check, then a stateless SDK MCP server whose `whoami` tool
 * reports the principal and calls Gitea with the person's forge token). Lets a test inject the
 * CIMD fetch and the clock, which the full broker (test/support/broker.ts) does not expose.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { loadConfig, type Config, type Env } from '../../src/config.js';
import { oauthRoutes } from '../../src/http/oauth-routes.js';
import { closeContext, createContext, type AppContext } from '../../src/context.js';
import type { AuthorizationServer } from '../../src/oauth/authorization-server.js';
import { createLogger } from '../../src/ops/log.js';
import type { Store } from '../../src/store/store.js';
import type { Metrics } from '../../src/ops/metrics.js';
import type { ForgeClient, ForgeTokens } from '../../src/upstream/types.js';
import type { Principal } from '../../src/lib/principal.js';
import { freePort, lineSink } from './broker.js';
import { createOAuthApp, oauthAppId, type Testbed } from './testbed.js';

export interface OAuthTestBroker {
  url: string;
  mcpUrl: string;
  config: Config;
  /** The current instance's authorization server (changes after restart). */
  as: AuthorizationServer;
  store: Store;
  /** The current instance's metrics (Prometheus text: `metrics.registry.metrics()`). */
  metrics: Metrics;
  forge: ForgeClient;
  forgeTokens: ForgeTokens;
  /** Numeric id of the broker's OAuth2 app in Gitea (for revoking grants there). */
  forgeAppId: number;
  dataDir: string;
  logLines: string[];
  /** Stops everything but the data and starts again on the same port, data and keys. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOAuthBrokerOptions {
  testbed: Testbed;
  env?: Env;
  cimdFetch?: typeof fetch;
  clock?: () => number;
}

export async function startOAuthBroker(opts: StartOAuthBrokerOptions): Promise<OAuthTestBroker> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const app = await createOAuthApp(opts.testbed, { redirectUris: [`${url}/oauth/callback`], confidential: true, name: `oauth-broker-${port}` });
  const dataDir = mkdtempSync(join(tmpdir(), 'fjmcp-oauth-test-'));
  const config = loadConfig({
    FJMCP_PUBLIC_URL: url,
    FJMCP_LISTEN_PORT: String(port),
    FJMCP_DATA_DIR: dataDir,
    FJMCP_FORGE_URL: opts.testbed.giteaUrl,
    FJMCP_FORGE_CLIENT_ID: app.clientId,
    FJMCP_FORGE_CLIENT_SECRET: app.clientSecret,
    FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    FJMCP_LOG_LEVEL: 'debug',
    ...opts.env,
  });
  const logLines: string[] = [];
  const sink = lineSink(logLines);
  const forgeAppId = await oauthAppId(opts.testbed, app.clientId);

  let server: ServerType | undefined;
  let ctx!: AppContext;
  const boot = async () => {
    ctx = await createContext(config, {
      log: createLogger(config.logLevel, sink),
      defaultMetrics: false,
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.cimdFetch ? { cimdFetch: opts.cimdFetch } : {}),
    });
    const { as, store, forge, forgeTokens } = ctx;
    const web = new Hono();
    web.route('/', oauthRoutes(as, config));
    web.all('/mcp', async (c) => {
      const auth = await as.authenticate(c.req.raw);
      if (auth instanceof Response) return auth;
      return whoamiServer(auth, config).handleRequest(c.req.raw);
    });
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: web.fetch, hostname: '127.0.0.1', port }, () => resolve(s));
    });
    Object.assign(broker, { as, store, forge, forgeTokens, metrics: ctx.metrics });
  };
  const shutdown = async () => {
    await new Promise<void>((resolve) => {
      server?.close(() => resolve());
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
    await closeContext(ctx, 0);
  };
  const broker = { url, mcpUrl: `${url}/mcp`, config, forgeAppId, dataDir, logLines } as OAuthTestBroker;
  await boot();
  broker.restart = async () => {
    await shutdown();
    // Let the test process's fetch pool see the closed keep-alive sockets before new requests.
    await new Promise((r) => setTimeout(r, 50));
    await boot();
  };
  broker.stop = async () => {
    await shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return broker;
}

/** A stateless MCP server for one request: tool `whoami` returns the principal (not its forge token) and the forge user seen with that token. */
function whoamiServer(p: Principal, config: Config): WebStandardStreamableHTTPServerTransport {
  const server = new McpServer({ name: 'oauth-test-mcp', version: '0.0.0' });
  server.registerTool('whoami', { description: 'who is calling' }, async () => {
    const res = await fetch(`${config.forge.url.origin}/api/v1/user`, { headers: { authorization: `token ${p.forgeAccessToken}` } });
    const forgeUser = res.ok ? ((await res.json()) as { login: string }).login : `HTTP ${res.status}`;
    const { forgeAccessToken: _secret, ...rest } = p;
    return { content: [{ type: 'text', text: JSON.stringify({ ...rest, forgeUser }) }] };
  });
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  void server.connect(transport);
  return transport;
}
