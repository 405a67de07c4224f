/**
 * @module oauth/context
 * What every endpoint of the authorization server works with: settings, the stores, the sealer,
 * the forge side, observability and the clock. Built once by authorization-server.ts.
 */
import type { Config } from '../config.js';
import type { Sealer } from '../lib/crypto.js';
import type { Audit } from '../ops/audit.js';
import type { Logger } from '../ops/log.js';
import type { ClientStore } from '../store/clients.js';
import type { ControlStore } from '../store/control.js';
import type { GrantStore } from '../store/grants.js';
import type { TokenStore } from '../store/tokens.js';
import type { TransactionStore } from '../store/transactions.js';
import type { ForgeClient, ForgeTokens } from '../upstream/types.js';
import type { ClientRegistry } from './clients.js';
import type { AsMetrics } from './as-metrics.js';
import type { PendingAuthorizations } from './pending-authorizations.js';
import type { ProtectedResource } from './resource.js';

export interface AsContext {
  config: Config;
  /** The protected resources tokens are issued for: the server at `/mcp` first. */
  resources: readonly ProtectedResource[];
  clients: ClientStore;
  transactions: TransactionStore;
  grants: GrantStore;
  tokens: TokenStore;
  /** Blocks, grants' last use, revocations that close open sessions (store/control.ts). */
  control: ControlStore;
  registry: ClientRegistry;
  sealer: Sealer;
  forge: ForgeClient;
  forgeTokens: ForgeTokens;
  log: Logger;
  audit: Audit;
  metrics: AsMetrics;
  /** Caps on the transactions `/authorize` stores (per client IP and in total). */
  pending: PendingAuthorizations;
  /** ms since the epoch. */
  now: () => number;
}

/** Parameters of a request: form body or query, after the duplicate check (see http/form.ts). */
export type Params = Readonly<Record<string, string | undefined>>;
