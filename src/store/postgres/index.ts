/**
 * @module store/postgres
 * The PostgreSQL engine of the store (see store/store.ts), chosen by `FJMCP_DATABASE_URL`.
 * Every atomic store method is one BEGIN…COMMIT on one pooled client.
 */
import { createPgPersonalTokenStore } from './personal-tokens.js';
import type { Store } from '../store.js';
import { createPgAccountStore } from './account.js';
import { createPgClientStore } from './clients.js';
import { createPgControlStore } from './control.js';
import { openPgPool } from './db.js';
import { createPgForgeTokenStore } from './forge-tokens.js';
import { createPgGrantStore } from './grants.js';
import { createPgTokenStore } from './tokens.js';
import { createPgTransactionStore } from './transactions.js';
import { createPgToolCallStore } from './tool-calls.js';

/**
 * Connects to `url` (`postgres://…`), migrates under the advisory lock, and returns the store.
 * @throws when PostgreSQL cannot be reached or a migration fails.
 */
export async function openPostgresStore(url: string): Promise<Store> {
  const pool = await openPgPool(url);
  let closed: Promise<void> | undefined;
  return {
    engine: 'postgres',
    clients: createPgClientStore(pool),
    transactions: createPgTransactionStore(pool),
    grants: createPgGrantStore(pool),
    tokens: createPgTokenStore(pool),
    forgeTokens: createPgForgeTokenStore(pool),
    toolCalls: createPgToolCallStore(pool),
    control: createPgControlStore(pool),
    account: createPgAccountStore(pool),
    personalTokens: createPgPersonalTokenStore(pool),
    backup: async () => {
      // A consistent copy of a PostgreSQL database is pg_dump's job (docs/operations.md).
      throw new Error('backup of a PostgreSQL store: use pg_dump (e.g. pg_dump -Fc -f broker.dump "$FJMCP_DATABASE_URL")');
    },
    ping: async () => void (await pool.query('SELECT 1')),
    close: () => (closed ??= pool.end()),
  };
}
