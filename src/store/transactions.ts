/**
 * @module store/transactions
 * SQL for authorization transactions: one row per `/authorize` request from the moment it is
 * validated until the client gets its code (or an error). Phases: `consent` (waiting for the
 * person), `forge` (approved, sent to the forge with a single-use state), `done`. The browser
 * binding secret, the CSRF token and the forge state are stored as SHA-256 hashes; the forge PKCE
 * verifier sealed. Times in ms since the epoch.
 */
import type { Db } from './db.js';

export interface TransactionRow {
  id: string;
  clientId: string;
  redirectUri: string;
  state: string | null;
  codeChallenge: string;
  resource: string;
  scope: string;
  browserHash: string;
  csrfHash: string;
  phase: 'consent' | 'forge' | 'done';
  forgeStateHash: string | null;
  forgeVerifierSealed: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface TransactionStore {
  insert(row: TransactionRow): Promise<void>;
  get(id: string): Promise<TransactionRow | undefined>;
  getByForgeState(forgeStateHash: string): Promise<TransactionRow | undefined>;
  /**
   * Moves a transaction from `consent` to `forge` with the forge state and verifier.
   * @returns false when it was not in `consent` (already decided) or expired.
   */
  approve(id: string, forgeStateHash: string, forgeVerifierSealed: string, now: number, expiresAt: number): Promise<boolean>;
  /**
   * Marks the transaction `done` if it is in `from` and not expired; the single-use step.
   * @returns false when another request got there first.
   */
  finish(id: string, from: 'consent' | 'forge', now: number): Promise<boolean>;
  /** Deletes transactions that expired before `now`, and finished ones. */
  reap(now: number): Promise<number>;
  /** Transactions not expired at `now` and not finished (what `/authorize` has pending). */
  countPending(now: number): Promise<number>;
}

const COLUMNS = `id, client_id AS clientId, redirect_uri AS redirectUri, state, code_challenge AS codeChallenge,
  resource, scope, browser_hash AS browserHash, csrf_hash AS csrfHash, phase,
  forge_state_hash AS forgeStateHash, forge_verifier_sealed AS forgeVerifierSealed,
  created_at AS createdAt, expires_at AS expiresAt`;

export function createTransactionStore(db: Db): TransactionStore {
  const insert = db.prepare(
    `INSERT INTO oauth_transactions (id, client_id, redirect_uri, state, code_challenge, resource, scope,
       browser_hash, csrf_hash, phase, forge_state_hash, forge_verifier_sealed, created_at, expires_at)
     VALUES (@id, @clientId, @redirectUri, @state, @codeChallenge, @resource, @scope, @browserHash, @csrfHash,
       @phase, @forgeStateHash, @forgeVerifierSealed, @createdAt, @expiresAt)`,
  );
  const get = db.prepare(`SELECT ${COLUMNS} FROM oauth_transactions WHERE id = ?`);
  const byState = db.prepare(`SELECT ${COLUMNS} FROM oauth_transactions WHERE forge_state_hash = ?`);
  const approve = db.prepare(
    `UPDATE oauth_transactions SET phase = 'forge', forge_state_hash = ?, forge_verifier_sealed = ?, expires_at = ?
     WHERE id = ? AND phase = 'consent' AND expires_at > ?`,
  );
  const finish = db.prepare(
    `UPDATE oauth_transactions SET phase = 'done', forge_verifier_sealed = NULL
     WHERE id = ? AND phase = ? AND expires_at > ?`,
  );
  const reap = db.prepare(`DELETE FROM oauth_transactions WHERE expires_at <= ? OR phase = 'done'`);
  const countPending = db.prepare(`SELECT COUNT(*) AS n FROM oauth_transactions WHERE expires_at > ? AND phase <> 'done'`);
  return {
    insert: async (row) => void insert.run(row),
    get: async (id) => get.get(id) as TransactionRow | undefined,
    getByForgeState: async (h) => byState.get(h) as TransactionRow | undefined,
    approve: async (id, h, sealed, now, exp) => approve.run(h, sealed, exp, id, now).changes === 1,
    finish: async (id, from, now) => finish.run(id, from, now).changes === 1,
    reap: async (now) => reap.run(now).changes,
    countPending: async (now) => (countPending.get(now) as { n: number }).n,
  };
}
