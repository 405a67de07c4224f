/**
 * @module store/store
 * The broker's store: one async interface, two engines — SQLite through better-sqlite3 (the
 * embedded default) and PostgreSQL through node-postgres (store/postgres/, for replicas). Every method returns a Promise so that an engine that talks to a server can
 * implement it; callers always await.
 *
 * Atomicity lives in purpose-built store methods, never in callers: each method that reads and
 * writes (for example {@link TokenStore.rotate}, {@link GrantStore.consumeCode},
 * {@link GrantStore.revokeForPerson}) is one transaction of its engine — one `db.transaction()`
 * in SQLite, one BEGIN…COMMIT on one pooled client in PostgreSQL. A caller never holds a
 * transaction open across an await of its own, so no engine has to lend out a connection.
 * New tables add a sub-store here with the same rule.
 */
import { createPersonalTokenStore, type PersonalTokenStore } from './personal-tokens.js';
import type { ClientStore } from './clients.js';
import { createControlStore, type ControlStore } from './control.js';
import { createAccountStore, type AccountStore } from './account.js';
import { createClientStore } from './clients.js';
import { openDb, pingDb, type Db } from './db.js';
import type { ForgeTokenStore } from './forge-tokens-store.js';
import { createForgeTokenStore } from './forge-tokens-store.js';
import type { GrantStore } from './grants.js';
import { createGrantStore } from './grants.js';
import type { ToolCallStore } from './tool-calls.js';
import { createToolCallStore } from './tool-calls.js';
import type { TokenStore } from './tokens.js';
import { createTokenStore } from './tokens.js';
import type { TransactionStore } from './transactions.js';
import { createTransactionStore } from './transactions.js';

export interface Store {
  /** Which engine holds the data. */
  readonly engine: 'sqlite' | 'postgres';
  readonly clients: ClientStore;
  readonly transactions: TransactionStore;
  readonly grants: GrantStore;
  readonly tokens: TokenStore;
  readonly forgeTokens: ForgeTokenStore;
  /** The tool-call audit (`fjmcp-broker admin audit` reads it through `toolCalls.query`). */
  readonly toolCalls: ToolCallStore;
  /** Seeing and cutting connections: grants' last use, blocks, the revocation queue (store/control.ts). */
  readonly control: ControlStore;
  /** The account page's sign-in and sessions (store/account.ts). */
  readonly account: AccountStore;
  /** Personal access tokens' names and expiry (store/personal-tokens.ts). */
  readonly personalTokens: PersonalTokenStore;
  /**
   * An online, consistent copy of the whole store into the file `path` (SQLite's backup API;
   * writers keep working meanwhile). @throws when the file cannot be written.
   */
  backup(path: string): Promise<void>;
  /** Runs a trivial query. @throws when the engine does not answer (used by `/healthz`). */
  ping(): Promise<void>;
  /** Closes the engine's connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** The SQLite engine over an open database (see db.ts); `close()` closes `db`. */
export function sqliteStore(db: Db): Store {
  return {
    engine: 'sqlite',
    clients: createClientStore(db),
    transactions: createTransactionStore(db),
    grants: createGrantStore(db),
    tokens: createTokenStore(db),
    forgeTokens: createForgeTokenStore(db),
    toolCalls: createToolCallStore(db),
    control: createControlStore(db),
    account: createAccountStore(db),
    personalTokens: createPersonalTokenStore(db),
    backup: async (path) => void (await db.backup(path)),
    ping: async () => pingDb(db),
    close: async () => void db.close(),
  };
}

/**
 * Opens (creating and migrating) the SQLite store at `path` (`:memory:` for tests).
 * @throws when the file cannot be opened or a migration fails.
 */
export async function openSqliteStore(path: string): Promise<Store> {
  return sqliteStore(openDb(path));
}
