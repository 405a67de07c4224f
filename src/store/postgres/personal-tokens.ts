/**
 * @module store/postgres/personal-tokens
 * PostgreSQL twin of store/personal-tokens.ts.
 */
import { PAT_CLIENT_ID, PAT_CLIENT_METADATA, type PersonalTokenStore, type PersonalTokenView } from '../personal-tokens.js';
import { inTransaction, type PgPool } from './db.js';

export function createPgPersonalTokenStore(pool: PgPool): PersonalTokenStore {
  return {
    async create(t) {
      await inTransaction(pool, async (c) => {
        await c.query(`INSERT INTO oauth_clients (client_id, source, metadata, created_at) VALUES ($1, 'dcr', $2, $3) ON CONFLICT (client_id) DO NOTHING`, [PAT_CLIENT_ID, PAT_CLIENT_METADATA, t.createdAt]);
        await c.query(
          'INSERT INTO oauth_grants (id, person_id, login, client_id, scope, resource, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [t.grantId, t.personId, t.login, PAT_CLIENT_ID, t.scope, t.resource, t.createdAt],
        );
        await c.query(
          `INSERT INTO oauth_tokens (hash, kind, grant_id, client_id, scope, resource, created_at, expires_at) VALUES ($1, 'access', $2, $3, $4, $5, $6, $7)`,
          [t.tokenHash, t.grantId, PAT_CLIENT_ID, t.scope, t.resource, t.createdAt, t.expiresAt],
        );
        await c.query('INSERT INTO personal_access_tokens (grant_id, person_id, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [t.grantId, t.personId, t.name, t.createdAt, t.expiresAt]);
      });
    },
    async list(personId) {
      return (await pool.query<PersonalTokenView>(
        `SELECT p.grant_id AS id, p.person_id AS "personId", g.login, p.name, p.created_at AS "createdAt", p.expires_at AS "expiresAt",
           g.last_used_at AS "lastUsedAt", g.revoked_at AS "revokedAt"
         FROM personal_access_tokens p JOIN oauth_grants g ON g.id = p.grant_id WHERE p.person_id = $1 ORDER BY p.created_at DESC`,
        [personId],
      )).rows;
    },
  };
}
