/**
 * @module store/postgres/forge-tokens
 * PostgreSQL twin of store/forge-tokens-store.ts: compare-and-set on `version`, so a slow
 * refresh on one replica never overwrites a newer sign-in written by another.
 */
import type { ForgeTokenRow, ForgeTokenStore } from '../forge-tokens-store.js';
import { changed, type PgPool } from './db.js';

const COLS = `person_id AS "personId", login, sealed, issued_at AS "issuedAt", expires_at AS "expiresAt",
  updated_at AS "updatedAt", version`;

export function createPgForgeTokenStore(pool: PgPool): ForgeTokenStore {
  return {
    async get(personId) {
      return (await pool.query<ForgeTokenRow>(`SELECT ${COLS} FROM forge_tokens WHERE person_id = $1`, [personId])).rows[0];
    },
    async put(row, now) {
      const r = await pool.query<{ version: number }>(
        `INSERT INTO forge_tokens (person_id, login, sealed, issued_at, expires_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, 1)
         ON CONFLICT (person_id) DO UPDATE SET login = excluded.login, sealed = excluded.sealed,
           issued_at = excluded.issued_at, expires_at = excluded.expires_at,
           updated_at = excluded.updated_at, version = forge_tokens.version + 1
         RETURNING version`,
        [row.personId, row.login, row.sealed, row.issuedAt, row.expiresAt, now],
      );
      return r.rows[0]!.version;
    },
    async replaceIfVersion(row, expectedVersion, now) {
      const r = await pool.query<{ version: number }>(
        `UPDATE forge_tokens SET login = $1, sealed = $2, issued_at = $3, expires_at = $4, updated_at = $5, version = version + 1
         WHERE person_id = $6 AND version = $7 RETURNING version`,
        [row.login, row.sealed, row.issuedAt, row.expiresAt, now, row.personId, expectedVersion],
      );
      return r.rows[0]?.version;
    },
    async resealIfVersion(personId, expectedVersion, sealed) {
      return changed(await pool.query('UPDATE forge_tokens SET sealed = $1 WHERE person_id = $2 AND version = $3', [sealed, personId, expectedVersion])) === 1;
    },
    async delete(personId) {
      return changed(await pool.query('DELETE FROM forge_tokens WHERE person_id = $1', [personId])) === 1;
    },
    async deleteIfVersion(personId, expectedVersion) {
      return changed(await pool.query('DELETE FROM forge_tokens WHERE person_id = $1 AND version = $2', [personId, expectedVersion])) === 1;
    },
    async acquireRefreshLease(personId, owner, now, until) {
      // One conditional UPDATE: the row lock makes concurrent takers queue; after the first commits
      // the others re-check the condition and change nothing.
      return changed(await pool.query(
        `UPDATE forge_tokens SET refresh_lease_owner = $1, refresh_lease_until = $2
         WHERE person_id = $3 AND (refresh_lease_until IS NULL OR refresh_lease_until <= $4)`,
        [owner, until, personId, now],
      )) === 1;
    },
    async releaseRefreshLease(personId, owner) {
      await pool.query('UPDATE forge_tokens SET refresh_lease_owner = NULL, refresh_lease_until = NULL WHERE person_id = $1 AND refresh_lease_owner = $2', [personId, owner]);
    },
  };
}
