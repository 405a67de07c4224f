/**
 * @module store/postgres/account
 * PostgreSQL twin of store/account.ts.
 */
import type { AccountLoginRow, AccountSessionRow, AccountStore } from '../account.js';
import { changed, type PgPool } from './db.js';

const SESSION_COLS = `id_hash AS "idHash", person_id AS "personId", login, created_at AS "createdAt", expires_at AS "expiresAt"`;

export function createPgAccountStore(pool: PgPool): AccountStore {
  return {
    async insertLogin(r) {
      await pool.query('INSERT INTO account_logins (state_hash, browser_hash, verifier_sealed, expires_at) VALUES ($1, $2, $3, $4)', [r.stateHash, r.browserHash, r.verifierSealed, r.expiresAt]);
    },
    async hasLogin(h, now) {
      return (await pool.query('SELECT 1 FROM account_logins WHERE state_hash = $1 AND expires_at > $2', [h, now])).rows.length === 1;
    },
    async takeLogin(h, now) {
      return (await pool.query<AccountLoginRow>(
        `DELETE FROM account_logins WHERE state_hash = $1 AND expires_at > $2
         RETURNING state_hash AS "stateHash", browser_hash AS "browserHash", verifier_sealed AS "verifierSealed", expires_at AS "expiresAt"`,
        [h, now],
      )).rows[0];
    },
    async insertSession(r) {
      await pool.query('INSERT INTO account_sessions (id_hash, person_id, login, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [r.idHash, r.personId, r.login, r.createdAt, r.expiresAt]);
    },
    async session(h, now) {
      return (await pool.query<AccountSessionRow>(`SELECT ${SESSION_COLS} FROM account_sessions WHERE id_hash = $1 AND expires_at > $2`, [h, now])).rows[0];
    },
    async deleteSession(h) {
      await pool.query('DELETE FROM account_sessions WHERE id_hash = $1', [h]);
    },
    async deletePersonSessions(p) {
      return changed(await pool.query('DELETE FROM account_sessions WHERE person_id = $1', [p]));
    },
    async reap(now) {
      return changed(await pool.query('DELETE FROM account_logins WHERE expires_at <= $1', [now])) + changed(await pool.query('DELETE FROM account_sessions WHERE expires_at <= $1', [now]));
    },
  };
}
