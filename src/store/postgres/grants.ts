/**
 * @module store/postgres/grants
 * PostgreSQL twin of store/grants.ts. Consuming a code is one transaction: the conditional
 * `UPDATE … WHERE used_at IS NULL` takes the row lock, so of two replicas redeeming the same code
 * at once exactly one changes the row; the other sees 0 rows (after the first commits) and
 * revokes the grant (RFC 6749 §4.1.2).
 */
import type { CodeRow, ConsumeResult, GrantRow, GrantStore } from '../grants.js';
import { changed, inTransaction, type PgPool, type Queryable } from './db.js';

const GRANT_COLS = `id, person_id AS "personId", login, client_id AS "clientId", scope, resource,
  created_at AS "createdAt", revoked_at AS "revokedAt"`;
const CODE_COLS = `hash, grant_id AS "grantId", client_id AS "clientId", redirect_uri AS "redirectUri",
  code_challenge AS "codeChallenge", resource, scope, expires_at AS "expiresAt", used_at AS "usedAt"`;

async function revoke(q: Queryable, id: string, reason: string, now: number): Promise<boolean> {
  const was = changed(await q.query(
    'UPDATE oauth_grants SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL',
    [now, reason, id],
  )) === 1;
  await q.query('UPDATE oauth_tokens SET revoked_at = $1, successor_sealed = NULL WHERE grant_id = $2 AND revoked_at IS NULL', [now, id]);
  return was;
}

export function createPgGrantStore(pool: PgPool): GrantStore {
  return {
    createWithCode: (g, code) =>
      inTransaction(pool, async (c) => {
        await c.query(
          `INSERT INTO oauth_grants (id, person_id, login, client_id, scope, resource, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [g.id, g.personId, g.login, g.clientId, g.scope, g.resource, g.createdAt],
        );
        await c.query(
          `INSERT INTO oauth_codes (hash, grant_id, client_id, redirect_uri, code_challenge, resource, scope, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [code.hash, g.id, code.clientId, code.redirectUri, code.codeChallenge, code.resource, code.scope, code.expiresAt],
        );
      }),
    async get(id) {
      return (await pool.query<GrantRow>(`SELECT ${GRANT_COLS} FROM oauth_grants WHERE id = $1`, [id])).rows[0];
    },
    consumeCode: (hash, now) =>
      inTransaction(pool, async (c): Promise<ConsumeResult> => {
        const used = await c.query<CodeRow>(
          `UPDATE oauth_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL RETURNING ${CODE_COLS}`,
          [now, hash],
        );
        // RETURNING gives the row as updated; the caller sees it as it was before (used_at unset).
        if (used.rows[0]) return { kind: 'ok', code: { ...used.rows[0], usedAt: null } };
        const code = (await c.query<CodeRow>(`SELECT ${CODE_COLS} FROM oauth_codes WHERE hash = $1`, [hash])).rows[0];
        if (!code) return { kind: 'unknown' };
        await revoke(c, code.grantId, 'authorization code replayed', now);
        return { kind: 'replayed', code };
      }),
    revoke: (id, reason, now) => inTransaction(pool, (c) => revoke(c, id, reason, now)),
    revokeForPerson: (personId, reason, now) =>
      inTransaction(pool, async (c) => {
        const ids = (await c.query<{ id: string }>('SELECT id FROM oauth_grants WHERE person_id = $1 AND revoked_at IS NULL', [personId])).rows.map((r) => r.id);
        for (const id of ids) await revoke(c, id, reason, now);
        return ids;
      }),
    reap: (now, codeKeepMs, before) =>
      inTransaction(pool, async (c) => {
        const codes = changed(await c.query('DELETE FROM oauth_codes WHERE expires_at < $1', [now - codeKeepMs]));
        const grants = changed(await c.query(
          `DELETE FROM oauth_grants WHERE (revoked_at IS NOT NULL AND revoked_at < $1)
             OR (created_at < $1
                 AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.grant_id = oauth_grants.id AND t.expires_at > $2)
                 AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.grant_id = oauth_grants.id))`,
          [before, now],
        ));
        return codes + grants;
      }),
  };
}
