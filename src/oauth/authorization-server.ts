/**
 * @module oauth/authorization-server
 * The OAuth 2.1 authorization server toward MCP clients, assembled from one module per endpoint.
 * It owns no HTTP framework: http/oauth-routes.ts adapts it to Hono. Background work (the
 * reaper) runs between {@link AuthorizationServer.start} and {@link AuthorizationServer.stop}.
 */
import type { Config } from '../config.js';
import { Sealer } from '../lib/crypto.js';
import type { Principal } from '../lib/principal.js';
import type { Audit } from '../ops/audit.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import { systemClock, type Clock } from '../lib/clock.js';
import type { Store } from '../store/store.js';
import type { ForgeClient, ForgeTokens } from '../upstream/types.js';
import { createAsMetrics } from './as-metrics.js';
import { authorize, type ConsentPrompt } from './authorize.js';
import { authenticateBearer } from './bearer.js';
import { forgeCallback } from './callback.js';
import { createClientRegistry, type PresentedCredentials } from './clients.js';
import { decideConsent, type ConsentDecision } from './consent.js';
import type { AsContext, Params } from './context.js';
import type { TokenResponse } from './issue.js';
import { authorizationServerMetadata, protectedResourceMetadata } from './metadata.js';
import { RateLimiter } from './rate-limit.js';
import type { ProtectedResource } from './resource.js';
import { register } from './registration.js';
import { UNUSED_CLIENT_TTL_S } from './registration.js';
import { revokeEndpoint } from './revoke.js';
import { guardedFetch } from './ssrf-guard.js';
import { tokenEndpoint } from './token.js';
import { CODE_REPLAY_MEMORY_S, TRANSACTION_TTL_S } from './tokens.js';
import { PendingAuthorizations } from './pending-authorizations.js';
import { rateLimitRefusals } from '../ops/metrics.js';

/** How often expired rows are deleted, in ms. */
export const REAP_INTERVAL_MS = 10 * 60_000;
/** Endpoint outcomes that are not refusals (everything else is audited as `request.refused`). */
const OK_OUTCOMES = new Set(['ok', 'approved', 'denied', 'error']);
/** Revoked grants (with their tokens) are kept this long for the audit trail, in seconds. */
const REVOKED_GRANT_KEEP_S = 7 * 24 * 3600;

export interface AuthorizationServerDeps {
  config: Config;
  store: Store;
  forge: ForgeClient;
  forgeTokens: ForgeTokens;
  log: Logger;
  audit: Audit;
  metrics: Metrics;
  /** Tests move time. Default `systemClock`. */
  clock?: Clock;
  /** Fetch used for client ID metadata documents; defaults to the SSRF-guarded fetch. */
  cimdFetch?: typeof fetch;
  /**
   * The protected resources (MCP servers) tokens are issued for, the server at `/mcp` first.
   * Default: only `config.mcpUrl`.
   */
  resources?: readonly ProtectedResource[];
}

export interface AuthorizationServer {
  readonly config: Config;
  /** The protected resources (MCP servers), the one at `/mcp` first. */
  readonly resources: readonly ProtectedResource[];
  /** RFC 8414 metadata (also the OpenID configuration alias). */
  authorizationServerMetadata(): Record<string, unknown>;
  /** RFC 9728 metadata of `/mcp`, or of the resource with the MCP URL `resource`. */
  protectedResourceMetadata(resource?: string): Record<string, unknown>;
  /** RFC 7591. @throws {OAuthError} */
  register(body: unknown, ip: string): Promise<Record<string, unknown>>;
  /** `ip`: the client IP, for the pending-authorization caps. @throws {OAuthError} redirectable once client and redirect URI are valid. */
  authorize(params: Params, ip: string): Promise<ConsentPrompt>;
  /**
   * Counts one request of client IP `ip` to `endpoint` (e.g. `/token`) against
   * `FJMCP_OAUTH_RATE_PER_MIN`. @returns 0 when admitted, else the seconds to wait (`Retry-After`).
   */
  admitIp(endpoint: string, ip: string): number;
  /** @throws {OAuthError} not redirectable. */
  consent(decision: ConsentDecision): Promise<{ location: string; done: boolean }>;
  /** @throws {OAuthError} not redirectable (foreign/used state, missing cookie). */
  callback(params: Params, cookie: (name: string) => string | undefined): Promise<{ location: string; txId: string }>;
  /** @throws {OAuthError} per RFC 6749 §5.2. */
  token(params: Params, creds: PresentedCredentials): Promise<TokenResponse>;
  /** RFC 7009. @throws {OAuthError} invalid_client / invalid_request. */
  revoke(params: Params, creds: PresentedCredentials): Promise<void>;
  /**
   * Bearer check for `/mcp` (or the MCP URL `resource` of another server): the principal, or the
   * challenge/503 Response to send.
   */
  authenticate(req: Request, resource?: string): Promise<Principal | Response>;
  /** Logs an unexpected error of an endpoint (never its secrets). */
  reportError(err: unknown, where: Record<string, string>): void;
  /** Counts an endpoint outcome (`ok` or an error code) in the metrics; refusals are also audited. */
  count(endpoint: string, outcome: string): void;
  /** Seeds vendor client metadata, subscribes to forge grant ends, starts the reaper. */
  start(): void;
  stop(): void;
  /** Runs one reaper pass now (tests, shutdown). @returns rows deleted. */
  reap(): Promise<number>;
}

export function createAuthorizationServer(deps: AuthorizationServerDeps): AuthorizationServer {
  const { config, store, log } = deps;
  const now = deps.clock ?? systemClock;
  const clients = store.clients;
  const resources = deps.resources ?? [{ url: config.mcpUrl, server: 'default', title: 'Forge via MCP' }];
  const ctx: AsContext = {
    config,
    resources,
    clients,
    transactions: store.transactions,
    grants: store.grants,
    tokens: store.tokens,
    control: store.control,
    registry: createClientRegistry({
      store: clients,
      cimdFetch: deps.cimdFetch ?? guardedFetch,
      log,
      now,
      assertionAudiences: [config.issuer, `${config.issuer}/token`, `${config.issuer}/revoke`],
    }),
    sealer: new Sealer(config.encryptionKeys),
    forge: deps.forge,
    forgeTokens: deps.forgeTokens,
    log: log.child({ component: 'oauth' }),
    audit: deps.audit,
    metrics: createAsMetrics(deps.metrics),
    pending: new PendingAuthorizations({
      store: store.transactions,
      perIp: config.oauthLimits.maxPendingPerIp,
      total: config.oauthLimits.maxPending,
      ttlMs: TRANSACTION_TTL_S * 1000,
      now,
    }),
    now,
  };
  const limiter = new RateLimiter(config.registration.ratePerMin);
  const ipLimiter = new RateLimiter(config.oauthLimits.ratePerMin);
  const rateLimited = rateLimitRefusals(deps.metrics);
  let timer: NodeJS.Timeout | undefined;
  let subscribed = false;

  const reap = async (): Promise<number> => {
    const t = now();
    limiter.sweep(t);
    ipLimiter.sweep(t);
    ctx.pending.sweep(t);
    return (
      (await ctx.transactions.reap(t)) +
      (await ctx.tokens.reap(t)) +
      (await ctx.grants.reap(t, CODE_REPLAY_MEMORY_S * 1000, t - REVOKED_GRANT_KEEP_S * 1000)) +
      (await ctx.clients.reapDcr(t - UNUSED_CLIENT_TTL_S * 1000, config.registration.maxClients)) +
      (await ctx.clients.reapAssertions(t))
    );
  };

  return {
    config,
    resources,
    authorizationServerMetadata: () => authorizationServerMetadata(config),
    protectedResourceMetadata: (resource) => protectedResourceMetadata(config, resources.find((r) => r.url === resource)),
    register: (body, ip) => register(ctx, limiter, body, ip),
    authorize: (p, ip) => authorize(ctx, p, ip),
    admitIp(endpoint, ip) {
      const wait = ipLimiter.hit(`${endpoint} ${ip}`, now());
      if (wait) {
        rateLimited.inc({ endpoint });
        ctx.metrics.requests.inc({ endpoint: endpoint.replace(/^\//, ''), outcome: 'rate_limited' });
      }
      return wait;
    },
    consent: (d) => decideConsent(ctx, d),
    callback: (p, cookie) => forgeCallback(ctx, p, cookie),
    token: (p, creds) => tokenEndpoint(ctx, p, creds),
    revoke: (p, creds) => revokeEndpoint(ctx, p, creds),
    authenticate: (req, resource) => authenticateBearer(ctx, req, resource),
    reportError: (err, where) => ctx.log.error({ err, ...where }, 'authorization server error'),
    count: (endpoint, outcome) => {
      ctx.metrics.requests.inc({ endpoint, outcome });
      if (!OK_OUTCOMES.has(outcome)) ctx.audit('request.refused', { endpoint, error: outcome });
    },
    start() {
      if (!subscribed) {
        subscribed = true;
        deps.forgeTokens.onGrantEnded(async (personId) => {
          // Through the revocation queue, so the person's open sessions close and the child stops.
          const ids = await ctx.control.revokePerson(personId, 'forge grant ended', now());
          for (const grantId of ids) ctx.audit('grant.revoked', { personId, grantId, reason: 'forge grant ended' });
        });
      }
      void ctx.registry.seed().catch((err: unknown) => log.warn({ err }, 'seeding client metadata documents failed'));
      if (!timer) {
        timer = setInterval(() => {
          reap().catch((err: unknown) => log.error({ err }, 'oauth reaper failed'));
        }, REAP_INTERVAL_MS);
        timer.unref();
      }
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    reap,
  };
}
