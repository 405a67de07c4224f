/**
 * @module store/postgres/tokens
 * PostgreSQL twin of store/tokens.ts. Rotation is one transaction whose conditional
 * `UPDATE … WHERE rotated_at IS NULL AND revoked_at IS NULL` row-locks the old refresh token: of
 * two replicas rotating it at once, the second waits, re-checks the condition after the first
 * commits, changes nothing and reports the lost race — one successor, as in one process.
 */
import type { NewToken, TokenRow, TokenStore, TokenWithGrant } from '../tokens.js';
import { changed, inTransaction, type PgPool, type Queryable } from './db.js';

const COLS = `t.hash, t.kind, t.grant_id AS "grantId", t.client_id AS "clientId", t.scope, t.resource,
  t.created_at AS "createdAt", t.expires_at AS "expiresAt", t.revoked_at AS "revokedAt", t.rotated_at AS "rotatedAt",
  t.successor_sealed AS "successorSealed", t.grace_until AS "graceUntil",
  g.person_id AS "gPersonId", g.login AS "gLogin", g.client_id AS "gClientId", g.scope AS "gScope",
  g.resource AS "gResource", g.created_at AS "gCreatedAt", g.revoked_at AS "gRevokedAt"`;

type Joined = TokenRow & {
  gPersonId: string; gLogin: string; gClientId: string; gScope: string; gResource: string; gCreatedAt: number; gRevokedAt: number | null;
};

async function insertAll(q: Queryable, tokens: NewToken[]): Promise<void> {
  if (tokens.length === 0) return;
  const values: unknown[] = [];
  const rows = tokens.map((t, i) => {
    values.push(t.hash, t.kind, t.grantId, t.clientId, t.scope, t.resource, t.createdAt, t.expiresAt);
    const b = i * 8;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8})`;
  });
  await q.query(
    `INSERT INTO oauth_tokens (hash, kind, grant_id, client_id, scope, resource, created_at, expires_at) VALUES ${rows.join(', ')}`,
    values,
  );
}

export function createPgTokenStore(pool: PgPool): TokenStore {
  return {
    // One multi-row INSERT is atomic by itself: no explicit transaction needed.
    insert: (...tokens) => insertAll(pool, tokens),
    async find(hash): Promise<TokenWithGrant | undefined> {
      const r = (await pool.query<Joined>(`SELECT ${COLS} FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id WHERE t.hash = $1`, [hash])).rows[0];
      if (!r) return undefined;
      const { gPersonId, gLogin, gClientId, gScope, gResource, gCreatedAt, gRevokedAt, ...t } = r;
      return {
        ...t,
        grant: { id: t.grantId, personId: gPersonId, login: gLogin, clientId: gClientId, scope: gScope, resource: gResource, createdAt: gCreatedAt, revokedAt: gRevokedAt },
      };
    },
    rotate: (oldHash, sealed, now, graceUntil, successors) =>
      inTransaction(pool, async (c) => {
        const marked = changed(await c.query(
          `UPDATE oauth_tokens SET rotated_at = $1, successor_sealed = $2, grace_until = $3
           WHERE hash = $4 AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL`,
          [now, sealed, graceUntil, oldHash],
        ));
        if (marked !== 1) return false;
        await insertAll(c, successors);
        return true;
      }),
    async revoke(hash, now) {
      return changed(await pool.query('UPDATE oauth_tokens SET revoked_at = $1, successor_sealed = NULL WHERE hash = $2 AND revoked_at IS NULL', [now, hash])) === 1;
    },
    reap: (now) =>
      inTransaction(pool, async (c) =>
        changed(await c.query('UPDATE oauth_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND grace_until < $1', [now])) +
        changed(await c.query('DELETE FROM oauth_tokens WHERE expires_at < $1', [now])),
      ),
  };
}
