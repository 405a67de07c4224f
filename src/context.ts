/**
 * @module context
 * The composition root: config → logger, metrics, audit → store → forge client and forge tokens
 * → authorization server → relay → health. {@link closeContext} tears down in reverse.
 * Tests assemble the broker here too, replacing parts through {@link ContextOptions}.
 */
import { join } from 'node:path';
import type { Config } from './config.js';
import { systemClock, type Clock } from './lib/clock.js';
import { createLogger, type Logger } from './ops/log.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { createAudit, type Audit } from './ops/audit.js';
import { createHealth, type Health } from './ops/health.js';
import { DB_FILE } from './store/db.js';
import { openSqliteStore, type Store } from './store/store.js';
import { openPostgresStore } from './store/postgres/index.js';
import { createForgeClient } from './upstream/forge-client.js';
import type { FetchLike } from './upstream/forge-http.js';
import { createForgeTokens } from './upstream/forge-tokens.js';
import type { ForgeClient, ForgeTokens } from './upstream/types.js';
import { createAuthorizationServer, type AuthorizationServer } from './oauth/authorization-server.js';
import { createChildSandbox } from './child/sandbox.js';
import { PolicyService } from './policy/policy-service.js';
import { createToolAudit, type ToolAudit } from './ops/tool-audit.js';
import { ToolGate } from './mcp/tool-gate.js';
import { DEFAULT_SERVER, resolveServers, type McpServer } from './child/servers.js';
import { createServerRelays, type ServerRelays } from './mcp/server-relays.js';
import { Sealer } from './lib/crypto.js';
import { createAccount, type Account } from './account/account.js';
import { loadSessionIdKey, startControlLoop, type ControlLoop } from './ops/control.js';

export interface AppContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  audit: Audit;
  clock: Clock;
  store: Store;
  forge: ForgeClient;
  forgeTokens: ForgeTokens;
  as: AuthorizationServer;
  /** Every server's relay, routing by the token's server (mcp/server-relays.ts). */
  relay: ServerRelays;
  health: Health;
  /** The tool policy in force (reloaded on SIGHUP by main.ts). */
  policy: PolicyService;
  /** The tool-call audit (log, `tool_calls` table, metrics). */
  toolAudit: ToolAudit;
  /** Tool policy, per-person rate limit and audit around MCP calls (of the server at `/mcp`; its rate limit covers every server). */
  tools: ToolGate;
  /** The MCP servers served (`/mcp` first, then the policy file's `servers` at `/mcp/<name>`). */
  servers: readonly McpServer[];
  /** Applies revocations and blocks (from any process) to open sessions; see ops/control.ts. */
  control: ControlLoop;
  /** The person's account page: connections, personal access tokens (account/account.ts). */
  account: Account;
}

/** Optional replacements, for tests; each defaults to the production part. */
export interface ContextOptions {
  /** A logger that writes elsewhere. */
  log?: Logger;
  /** Process metrics (CPU, memory) in `/metrics`; off in tests that build several contexts. */
  defaultMetrics?: boolean;
  /** The clock of every time-dependent part. Default {@link systemClock}. */
  clock?: Clock;
  /** Fetch of the real forge client (the forge's token, user and health endpoints). */
  forgeFetch?: FetchLike;
  /** A whole forge client; its name must say it is a stand-in. Wins over `forgeFetch`. */
  forge?: ForgeClient;
  /** Fetch of client ID metadata documents. Default: the SSRF-guarded fetch. */
  cimdFetch?: typeof fetch;
  /** An open store (e.g. in-memory SQLite, or one shared by two contexts). Default: opened from config. */
  store?: Store;
  /** Pauses between forge refresh attempts, ms (see upstream/forge-tokens.ts). */
  forgeRetryDelaysMs?: readonly number[];
}

/** Opens the store named by the configuration: PostgreSQL at `FJMCP_DATABASE_URL`, else SQLite in the data directory. */
export function openConfiguredStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Store> {
  return config.databaseUrl ? openPostgresStore(config.databaseUrl) : openSqliteStore(join(config.dataDir, DB_FILE));
}

export async function createContext(config: Config, opts: ContextOptions = {}): Promise<AppContext> {
  const log = opts.log ?? createLogger(config.logLevel);
  const metrics = createMetrics(opts.defaultMetrics ?? true);
  const audit = createAudit(log);
  const clock = opts.clock ?? systemClock;
  const forge = opts.forge ?? createForgeClient({ config, log, clock, ...(opts.forgeFetch ? { fetch: opts.forgeFetch } : {}) });
  // Before the store opens, so a bad policy file stops the start with nothing to undo (PolicyFileError).
  const policy = new PolicyService({ file: config.policy.file, preset: config.child.preset, log: log.child({ component: 'policy' }), memberships: (t) => forge.memberships(t) });
  const servers = resolveServers(config, policy.servers);
  const store = opts.store ?? (await openConfiguredStore(config));
  const forgeTokens = createForgeTokens({
    config, store: store.forgeTokens, forge, log, audit, metrics, clock,
    ...(opts.forgeRetryDelaysMs ? { retryDelaysMs: opts.forgeRetryDelaysMs } : {}),
  });
  const as = createAuthorizationServer({
    config, store, forge, forgeTokens, log, audit, metrics, clock,
    resources: servers.map((s) => ({ url: s.resource, server: s.name, title: s.title })),
    ...(opts.cimdFetch ? { cimdFetch: opts.cimdFetch } : {}),
  });
  const sandbox = createChildSandbox(config, log);
  const toolAudit = createToolAudit({ log, metrics, store: store.toolCalls, retentionDays: config.audit.retentionDays, clock });
  const gate = (server: string) => new ToolGate({ policy, audit: toolAudit, clock, rate: { perMin: config.rateLimits.mcpPerMin, burst: config.rateLimits.mcpBurst }, maxBodyBytes: config.mcp.maxBodyBytes, server, metrics });
  const tools = gate(DEFAULT_SERVER);
  const sessionIdKey = await loadSessionIdKey(store, new Sealer(config.encryptionKeys), config.encryptionKeys[0]!, clock, log);
  const relay = createServerRelays({
    config, log, audit, metrics, servers, sandbox, forgeUrl: config.forge.url.href.replace(/\/+$/, ''), sessionIdKey,
    toolsFor: (server) => (server === DEFAULT_SERVER ? tools : gate(server)),
  });
  const health = createHealth({ store, forge, clock, childSandbox: sandbox });
  as.start();
  const control = await startControlLoop({ store, relay, log, clock });
  const account = createAccount({ config, store, forge, forgeTokens, relay, control, audit, log: log.child({ component: 'account' }), clock });
  return { config, log, metrics, audit, clock, store, forge, forgeTokens, as, relay, health, policy, toolAudit, tools, servers, control, account };
}

/**
 * Stops in reverse order: the relay drains (in-flight calls get `graceMs`, then every child
 * process group is stopped), the authorization server's timers stop, the store closes.
 */
export async function closeContext(ctx: AppContext, graceMs: number): Promise<void> {
  ctx.control.stop();
  await ctx.relay.shutdown(graceMs);
  ctx.as.stop();
  ctx.toolAudit.stop();
  await ctx.toolAudit.flush();
  await ctx.store.close();
}
