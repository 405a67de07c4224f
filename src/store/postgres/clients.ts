/**
 * @module store/postgres/clients
 * PostgreSQL twin of store/clients.ts (same contract, same statements in PostgreSQL's dialect).
 */
import type { ClientRow, ClientStore } from '../clients.js';
import { changed, inTransaction, type PgPool, type Queryable } from './db.js';

const COLS = `client_id AS "clientId", source, metadata, secret_hash AS "secretHash", created_at AS "createdAt",
  last_used_at AS "lastUsedAt", fresh_until AS "freshUntil"`;
const UNUSED = `source = 'dcr' AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = oauth_clients.client_id)`;

const countDcr = async (q: Queryable): Promise<number> =>
  (await q.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM oauth_clients WHERE source = 'dcr'`)).rows[0]!.n;

export function createPgClientStore(pool: PgPool): ClientStore {
  return {
    async get(id) {
      // Named (prepared once per connection): every token request authenticates its client.
      return (await pool.query<ClientRow>({ name: 'fjmcp_client_get', text: `SELECT ${COLS} FROM oauth_clients WHERE client_id = $1`, values: [id] })).rows[0];
    },
    async insert(r) {
      await pool.query(
        `INSERT INTO oauth_clients (client_id, source, metadata, secret_hash, created_at, last_used_at, fresh_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [r.clientId, r.source, r.metadata, r.secretHash, r.createdAt, r.lastUsedAt, r.freshUntil],
      );
    },
    async upsertCimd(id, metadata, now, freshUntil) {
      await pool.query(
        `INSERT INTO oauth_clients (client_id, source, metadata, created_at, fresh_until) VALUES ($1, 'cimd', $2, $3, $4)
         ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, fresh_until = excluded.fresh_until
         WHERE oauth_clients.source = 'cimd'`,
        [id, metadata, now, freshUntil],
      );
    },
    async seedCimd(id, metadata, now) {
      await pool.query(
        `INSERT INTO oauth_clients (client_id, source, metadata, created_at, fresh_until) VALUES ($1, 'cimd', $2, $3, 0)
         ON CONFLICT (client_id) DO NOTHING`,
        [id, metadata, now],
      );
    },
    async touch(id, now) {
      await pool.query('UPDATE oauth_clients SET last_used_at = $1 WHERE client_id = $2', [now, id]);
    },
    countDcr: () => countDcr(pool),
    reapDcr: (createdBefore, keep) =>
      inTransaction(pool, async (c) => {
        let n = changed(await c.query(`DELETE FROM oauth_clients WHERE ${UNUSED} AND created_at < $1`, [createdBefore]));
        const excess = (await countDcr(c)) - keep;
        if (excess > 0) {
          n += changed(await c.query(
            `DELETE FROM oauth_clients WHERE client_id IN (
               SELECT client_id FROM oauth_clients WHERE ${UNUSED} ORDER BY created_at LIMIT $1)`,
            [excess],
          ));
        }
        return n;
      }),
    async claimAssertion(id, jti, expiresAt) {
      return changed(await pool.query(
        'INSERT INTO oauth_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [id, jti, expiresAt],
      )) === 1;
    },
    async reapAssertions(now) {
      return changed(await pool.query('DELETE FROM oauth_client_assertions WHERE expires_at < $1', [now]));
    },
  };
}
