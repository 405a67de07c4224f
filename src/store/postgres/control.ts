/**
 * @module store/postgres/control
 * PostgreSQL twin of store/control.ts: each revocation and its queued event in one transaction.
 */
import type { BlockRow, ClientView, ControlEvent, ControlStore, GrantView, PersonView } from '../control.js';
import type { ForgeTokenRow } from '../forge-tokens-store.js';
import { changed, inTransaction, type PgClient, type PgPool } from './db.js';

const GRANT_VIEW = `SELECT g.id, g.person_id AS "personId", g.login, g.client_id AS "clientId", c.source AS "clientSource",
  c.metadata AS "clientMetadata", g.scope, g.created_at AS "createdAt", g.last_used_at AS "lastUsedAt",
  g.revoked_at AS "revokedAt", g.revoked_reason AS "revokedReason"
  FROM oauth_grants g JOIN oauth_clients c ON c.client_id = g.client_id`;

async function revokeAll(c: PgClient, ids: readonly string[], reason: string, now: number): Promise<string[]> {
  const done: string[] = [];
  for (const id of ids) {
    if (changed(await c.query('UPDATE oauth_grants SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL', [now, reason, id])) === 1) done.push(id);
    await c.query('UPDATE oauth_tokens SET revoked_at = $1, successor_sealed = NULL WHERE grant_id = $2 AND revoked_at IS NULL', [now, id]);
  }
  return done;
}

const event = (c: PgClient, now: number, kind: ControlEvent['kind'], personId: string | null, ids: string[]) =>
  c.query('INSERT INTO control_events (at, kind, person_id, grant_ids) VALUES ($1, $2, $3, $4)', [now, kind, personId, JSON.stringify(ids)]);

export function createPgControlStore(pool: PgPool): ControlStore {
  return {
    async touchGrant(id, now) {
      await pool.query('UPDATE oauth_grants SET last_used_at = $1 WHERE id = $2', [now, id]);
    },
    async grants(filter = {}) {
      const where: string[] = [];
      const args: string[] = [];
      if (filter.personId) (args.push(filter.personId), where.push(`g.person_id = $${args.length}`));
      if (filter.clientId) (args.push(filter.clientId), where.push(`g.client_id = $${args.length}`));
      if (filter.activeOnly) where.push('g.revoked_at IS NULL');
      return (await pool.query<GrantView>(`${GRANT_VIEW}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY g.created_at`, args)).rows;
    },
    async people() {
      const r = await pool.query<PersonView>(
        `SELECT p.person_id AS "personId", max(p.login) AS login,
           (SELECT count(*) FROM oauth_grants g WHERE g.person_id = p.person_id AND g.revoked_at IS NULL)::int AS "activeGrants",
           (SELECT count(DISTINCT client_id) FROM oauth_grants g WHERE g.person_id = p.person_id AND g.revoked_at IS NULL)::int AS clients,
           nullif(greatest(coalesce((SELECT max(coalesce(g.last_used_at, g.created_at)) FROM oauth_grants g WHERE g.person_id = p.person_id), 0),
                           coalesce((SELECT f.updated_at FROM forge_tokens f WHERE f.person_id = p.person_id), 0)), 0) AS "lastActivityAt",
           EXISTS (SELECT 1 FROM forge_tokens f WHERE f.person_id = p.person_id) AS "forgeSignedIn"
         FROM (SELECT person_id, login FROM forge_tokens UNION SELECT person_id, max(login) FROM oauth_grants GROUP BY person_id) p
         GROUP BY p.person_id ORDER BY login`,
      );
      return r.rows;
    },
    async clients() {
      return (await pool.query<ClientView>(
        `SELECT c.client_id AS "clientId", c.source, c.metadata, c.created_at AS "createdAt", c.last_used_at AS "lastUsedAt",
           (SELECT count(*) FROM oauth_grants g WHERE g.client_id = c.client_id AND g.revoked_at IS NULL)::int AS "activeGrants",
           (SELECT count(DISTINCT person_id) FROM oauth_grants g WHERE g.client_id = c.client_id AND g.revoked_at IS NULL)::int AS people
         FROM oauth_clients c ORDER BY c.created_at`,
      )).rows;
    },
    async findPerson(login) {
      const f = await pool.query<{ personId: string; login: string }>('SELECT person_id AS "personId", login FROM forge_tokens WHERE lower(login) = lower($1) LIMIT 1', [login]);
      if (f.rows[0]) return f.rows[0];
      return (await pool.query<{ personId: string; login: string }>('SELECT person_id AS "personId", login FROM oauth_grants WHERE lower(login) = lower($1) ORDER BY created_at DESC LIMIT 1', [login])).rows[0];
    },
    revokeGrants: (ids, reason, now) =>
      inTransaction(pool, async (c) => {
        const done = await revokeAll(c, ids, reason, now);
        if (done.length) await event(c, now, 'grants', null, done);
        return done;
      }),
    revokeClient: (clientId, reason, now) =>
      inTransaction(pool, async (c) => {
        const ids = (await c.query<{ id: string }>('SELECT id FROM oauth_grants WHERE client_id = $1 AND revoked_at IS NULL', [clientId])).rows.map((r) => r.id);
        const done = await revokeAll(c, ids, reason, now);
        if (done.length) await event(c, now, 'grants', null, done);
        return done;
      }),
    revokePerson: (personId, reason, now) =>
      inTransaction(pool, async (c) => {
        const ids = (await c.query<{ id: string }>('SELECT id FROM oauth_grants WHERE person_id = $1 AND revoked_at IS NULL', [personId])).rows.map((r) => r.id);
        const done = await revokeAll(c, ids, reason, now);
        await event(c, now, 'person', personId, done);
        return done;
      }),
    block: (login, personId, reason, now) =>
      inTransaction(pool, async (c) => {
        await c.query(
          `INSERT INTO person_blocks (login, person_id, blocked_at, reason) VALUES (lower($1), $2, $3, $4)
           ON CONFLICT (login) DO UPDATE SET person_id = coalesce(excluded.person_id, person_blocks.person_id), reason = excluded.reason`,
          [login, personId, now, reason],
        );
        await event(c, now, 'block', personId, []);
      }),
    async unblock(login) {
      return changed(await pool.query('DELETE FROM person_blocks WHERE login = lower($1)', [login])) === 1;
    },
    async isBlocked(personId, login) {
      return (await pool.query('SELECT 1 FROM person_blocks WHERE person_id = $1 OR login = lower($2) LIMIT 1', [personId, login])).rows.length === 1;
    },
    async blocks() {
      return (await pool.query<BlockRow>('SELECT login, person_id AS "personId", blocked_at AS "blockedAt", reason FROM person_blocks ORDER BY login')).rows;
    },
    async eventsAfter(afterId) {
      const r = await pool.query<Omit<ControlEvent, 'grantIds'> & { grantIds: string | null }>(
        'SELECT id, at, kind, person_id AS "personId", grant_ids AS "grantIds" FROM control_events WHERE id > $1 ORDER BY id',
        [afterId],
      );
      return r.rows.map((e) => ({ ...e, grantIds: e.grantIds ? (JSON.parse(e.grantIds) as string[]) : [] }));
    },
    async lastEventId() {
      return (await pool.query<{ id: number }>('SELECT coalesce(max(id), 0) AS id FROM control_events')).rows[0]!.id;
    },
    async hasActiveGrant(personId) {
      return (await pool.query('SELECT 1 FROM oauth_grants WHERE person_id = $1 AND revoked_at IS NULL LIMIT 1', [personId])).rows.length === 1;
    },
    async getState(name) {
      return (await pool.query<{ value: string }>('SELECT value FROM broker_state WHERE name = $1', [name])).rows[0]?.value;
    },
    async putState(name, value, now) {
      await pool.query('INSERT INTO broker_state (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at', [name, value, now]);
    },
    async initState(name, value, now) {
      await pool.query('INSERT INTO broker_state (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [name, value, now]);
      return (await pool.query<{ value: string }>('SELECT value FROM broker_state WHERE name = $1', [name])).rows[0]!.value;
    },
    async forgeTokenRows() {
      return (await pool.query<ForgeTokenRow>(
        'SELECT person_id AS "personId", login, sealed, issued_at AS "issuedAt", expires_at AS "expiresAt", updated_at AS "updatedAt", version FROM forge_tokens',
      )).rows;
    },
    async reapEvents(before) {
      return changed(await pool.query('DELETE FROM control_events WHERE at < $1', [before]));
    },
  };
}
