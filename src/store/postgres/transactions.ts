/**
 * @module store/postgres/transactions
 * PostgreSQL twin of store/transactions.ts. Each phase change is one conditional UPDATE, so it
 * is single-use across replicas as in one process.
 */
import type { TransactionRow, TransactionStore } from '../transactions.js';
import { changed, type PgPool } from './db.js';

const COLS = `id, client_id AS "clientId", redirect_uri AS "redirectUri", state, code_challenge AS "codeChallenge",
  resource, scope, browser_hash AS "browserHash", csrf_hash AS "csrfHash", phase,
  forge_state_hash AS "forgeStateHash", forge_verifier_sealed AS "forgeVerifierSealed",
  created_at AS "createdAt", expires_at AS "expiresAt"`;

export function createPgTransactionStore(pool: PgPool): TransactionStore {
  return {
    async insert(r) {
      await pool.query(
        `INSERT INTO oauth_transactions (id, client_id, redirect_uri, state, code_challenge, resource, scope,
           browser_hash, csrf_hash, phase, forge_state_hash, forge_verifier_sealed, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [r.id, r.clientId, r.redirectUri, r.state, r.codeChallenge, r.resource, r.scope, r.browserHash, r.csrfHash,
          r.phase, r.forgeStateHash, r.forgeVerifierSealed, r.createdAt, r.expiresAt],
      );
    },
    async get(id) {
      return (await pool.query<TransactionRow>(`SELECT ${COLS} FROM oauth_transactions WHERE id = $1`, [id])).rows[0];
    },
    async getByForgeState(h) {
      return (await pool.query<TransactionRow>(`SELECT ${COLS} FROM oauth_transactions WHERE forge_state_hash = $1`, [h])).rows[0];
    },
    async approve(id, h, sealed, now, exp) {
      return changed(await pool.query(
        `UPDATE oauth_transactions SET phase = 'forge', forge_state_hash = $1, forge_verifier_sealed = $2, expires_at = $3
         WHERE id = $4 AND phase = 'consent' AND expires_at > $5`,
        [h, sealed, exp, id, now],
      )) === 1;
    },
    async finish(id, from, now) {
      return changed(await pool.query(
        `UPDATE oauth_transactions SET phase = 'done', forge_verifier_sealed = NULL
         WHERE id = $1 AND phase = $2 AND expires_at > $3`,
        [id, from, now],
      )) === 1;
    },
    async reap(now) {
      return changed(await pool.query(`DELETE FROM oauth_transactions WHERE expires_at <= $1 OR phase = 'done'`, [now]));
    },
    async countPending(now) {
      const r = await pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM oauth_transactions WHERE expires_at > $1 AND phase <> 'done'`, [now]);
      return Number(r.rows[0]!.n);
    },
  };
}
