/**
 * @module store/postgres/tokens
 * PostgreSQL twin of store/tokens.ts. Rotation is one transaction whose conditional
 * `UPDATE … WHERE rotated_at IS NULL AND revoked_at IS NULL` row-locks the old refresh token: of
 * two replicas rotating it at once, the second waits, re-checks the condition after the first
 * commits, changes nothing and reports the lost race — one successor, as in one process.
 */
import { bearerCheck, withGrant, type BearerJoined, type Joined, type NewToken, type TokenStore } from '../tokens.js';
import { changed, inTransaction, type PgPool, type Queryable } from './db.js';

const COLS = `t.hash, t.kind, t.grant_id AS "grantId", t.client_id AS "clientId", t.scope, t.resource,
  t.created_at AS "createdAt", t.expires_at AS "expiresAt", t.revoked_at AS "revokedAt", t.rotated_at AS "rotatedAt",
  t.successor_sealed AS "successorSealed", t.grace_until AS "graceUntil",
  g.person_id AS "gPersonId", g.login AS "gLogin", g.client_id AS "gClientId", g.scope AS "gScope",
  g.resource AS "gResource", g.created_at AS "gCreatedAt", g.revoked_at AS "gRevokedAt"`;

/**
 * The bearer check's read in one statement: token, grant, block flag, forge token row. A named
 * (prepared) statement: each pooled connection parses and plans it once.
 */
const BEARER_CHECK = {
  name: 'fjmcp_bearer_check',
  text: `SELECT ${COLS},
    EXISTS (SELECT 1 FROM person_blocks b WHERE b.person_id = g.person_id OR b.login = lower(g.login)) AS blocked,
    f.login AS "fLogin", f.sealed AS "fSealed", f.issued_at AS "fIssuedAt", f.expires_at AS "fExpiresAt",
    f.updated_at AS "fUpdatedAt", f.version AS "fVersion"
  FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
  LEFT JOIN forge_tokens f ON f.person_id = g.person_id WHERE t.hash = $1`,
};
const FIND = { name: 'fjmcp_token_find', text: `SELECT ${COLS} FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id WHERE t.hash = $1` };

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
    async find(hash) {
      const r = (await pool.query<Joined>({ ...FIND, values: [hash] })).rows[0];
      return r && withGrant(r);
    },
    async findForBearer(hash) {
      const r = (await pool.query<BearerJoined>({ ...BEARER_CHECK, values: [hash] })).rows[0];
      return r && bearerCheck(r);
    },
    // One statement, so one round trip and its own transaction: the UPDATE's row lock serialises
    // concurrent rotations (the loser re-checks `rotated_at IS NULL` after the winner commits and
    // matches nothing), and the INSERT of the successors runs only when the UPDATE changed the row.
    async rotate(oldHash, sealed, now, graceUntil, successors) {
      const values: unknown[] = [now, sealed, graceUntil, oldHash];
      const rows = successors.map((t, i) => {
        values.push(t.hash, t.kind, t.grantId, t.clientId, t.scope, t.resource, t.createdAt, t.expiresAt);
        const b = 4 + i * 8;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}::bigint, $${b + 8}::bigint)`;
      });
      const mark = `UPDATE oauth_tokens SET rotated_at = $1, successor_sealed = $2, grace_until = $3
        WHERE hash = $4 AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL RETURNING 1`;
      const text = rows.length === 0
        ? mark
        : `WITH marked AS (${mark})
           INSERT INTO oauth_tokens (hash, kind, grant_id, client_id, scope, resource, created_at, expires_at)
           SELECT v.* FROM (VALUES ${rows.join(', ')}) AS v WHERE EXISTS (SELECT 1 FROM marked)
           RETURNING 1`;
      // Successors are 1 or 2 tokens: a handful of named (prepared) statements per connection.
      return changed(await pool.query({ name: `fjmcp_token_rotate_${rows.length}`, text, values })) > 0;
    },
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
