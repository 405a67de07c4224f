/**
 * @module context
 * The composition root: config → logger, metrics, audit → store → forge client and forge tokens
 * → authorization server → relay → health. {@link closeContext} tears down in reverse.
 */
import { join } from 'node:path';
import type { Config } from './config.js';
import { createLogger, type Logger } from './ops/log.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { createAudit, type Audit } from './ops/audit.js';
import { createHealth, type Health } from './ops/health.js';
import { openDb, DB_FILE, type Db } from './store/db.js';
import { createForgeTokenStore } from './store/forge-tokens-store.js';
import { createForgeClient } from './upstream/forge-client.js';
import { createForgeTokens } from './upstream/forge-tokens.js';
import type { ForgeClient, ForgeTokens } from './upstream/types.js';
import { createAuthorizationServer, type AuthorizationServer } from './oauth/authorization-server.js';
import { createRelay, type Relay } from './mcp/relay.js';
import { PolicyService } from './policy/policy-service.js';

export interface AppContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  audit: Audit;
  db: Db;
  forge: ForgeClient;
  forgeTokens: ForgeTokens;
  as: AuthorizationServer;
  relay: Relay;
  health: Health;
  /** The tool policy in force (reloaded on SIGHUP by main.ts). */
  policy: PolicyService;
}

/** Optional overrides for tests: a logger that writes elsewhere, process metrics off. */
export interface ContextOptions {
  log?: Logger;
  defaultMetrics?: boolean;
}

export function createContext(config: Config, opts: ContextOptions = {}): AppContext {
  const log = opts.log ?? createLogger(config.logLevel);
  const metrics = createMetrics(opts.defaultMetrics ?? true);
  const audit = createAudit(log);
  const forge = createForgeClient({ config, log });
  // Before the store opens, so a bad policy file stops the start with nothing to undo (PolicyFileError).
  const policy = new PolicyService({ file: config.policy.file, preset: config.child.preset, log: log.child({ component: 'policy' }), memberships: (t) => forge.memberships(t) });
  const db = openDb(join(config.dataDir, DB_FILE));
  const forgeTokens = createForgeTokens({ config, store: createForgeTokenStore(db), forge, log, audit, metrics });
  const as = createAuthorizationServer({ config, db, forge, forgeTokens, log, audit, metrics });
  const relay = createRelay({ config, log, audit, metrics, forgeUrl: config.forge.url.href.replace(/\/+$/, '') });
  const health = createHealth({ db, forge });
  as.start();
  return { config, log, metrics, audit, db, forge, forgeTokens, as, relay, health, policy };
}

/**
 * Stops in reverse order: the relay drains (in-flight calls get `graceMs`, then every child
 * process group is stopped), the authorization server's timers stop, the database closes.
 */
export async function closeContext(ctx: AppContext, graceMs: number): Promise<void> {
  await ctx.relay.shutdown(graceMs);
  ctx.as.stop();
  ctx.db.close();
}
