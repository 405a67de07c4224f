/**
 * @module store/control
 * SQL for seeing and cutting connections (migration 005): grants with their last use, people and
 * clients as operators see them, blocks, the revocation queue that running brokers apply to open
 * MCP sessions, and small named broker values. Every write that revokes also queues its event in
 * the same transaction, so a running broker learns of it whichever process wrote it.
 * Times in ms since the epoch.
 */
import type { Db } from './db.js';
import type { ForgeTokenRow } from './forge-tokens-store.js';

/** A grant as operators and people see it, with its client. */
export interface GrantView {
  id: string;
  personId: string;
  login: string;
  clientId: string;
  clientSource: 'dcr' | 'cimd';
  /** JSON of the client metadata (oauth/client-metadata.ts). */
  clientMetadata: string;
  scope: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  revokedReason: string | null;
}

export interface PersonView {
  personId: string;
  login: string;
  activeGrants: number;
  clients: number;
  /** Last use of any of their grants, or their last sign-in. */
  lastActivityAt: number | null;
  /** Whether the store holds their forge tokens (signed in on the forge). */
  forgeSignedIn: boolean;
}

export interface ClientView {
  clientId: string;
  source: 'dcr' | 'cimd';
  metadata: string;
  createdAt: number;
  lastUsedAt: number | null;
  activeGrants: number;
  people: number;
}

export interface BlockRow {
  /** Forge login, lower-case. */
  login: string;
  personId: string | null;
  blockedAt: number;
  reason: string | null;
}

/**
 * One entry of the revocation queue: `grants` (these grants were revoked), `person` (every grant
 * of the person was revoked), `block` (the person was blocked).
 */
export interface ControlEvent {
  id: number;
  at: number;
  kind: 'grants' | 'person' | 'block';
  personId: string | null;
  grantIds: string[];
}

export interface ControlStore {
  /** Records a use of the grant (the bearer check calls it at most once a minute per grant). */
  touchGrant(grantId: string, now: number): Promise<void>;
  grants(filter?: { personId?: string; clientId?: string; activeOnly?: boolean }): Promise<GrantView[]>;
  people(): Promise<PersonView[]>;
  clients(): Promise<ClientView[]>;
  /** The person with this forge login (case-insensitive), from their forge tokens or grants. */
  findPerson(login: string): Promise<{ personId: string; login: string } | undefined>;
  /** Revokes these grants (and their tokens) and queues one event. @returns the ids that were active. */
  revokeGrants(grantIds: readonly string[], reason: string, now: number): Promise<string[]>;
  /** Revokes every active grant of a client, for everyone. @returns the revoked grant ids. */
  revokeClient(clientId: string, reason: string, now: number): Promise<string[]>;
  /** Revokes every active grant of a person and queues a `person` event. @returns the revoked ids. */
  revokePerson(personId: string, reason: string, now: number): Promise<string[]>;
  /** Blocks a login (and its person id when known) and queues a `block` event. */
  block(login: string, personId: string | null, reason: string | null, now: number): Promise<void>;
  /** @returns true when the login was blocked. */
  unblock(login: string): Promise<boolean>;
  /** True when the person id or the login (case-insensitive) is blocked. */
  isBlocked(personId: string, login: string): Promise<boolean>;
  blocks(): Promise<BlockRow[]>;
  /** Events with an id above `afterId`, oldest first. */
  eventsAfter(afterId: number): Promise<ControlEvent[]>;
  /** The newest event id (0 when none). */
  lastEventId(): Promise<number>;
  /** True when the person holds at least one active grant. */
  hasActiveGrant(personId: string): Promise<boolean>;
  getState(name: string): Promise<string | undefined>;
  putState(name: string, value: string, now: number): Promise<void>;
  /** Stores `value` unless the name exists; @returns what is stored now (first writer wins). */
  initState(name: string, value: string, now: number): Promise<string>;
  /** Every forge token row (rotate-keys and `admin check`); the boxes stay sealed. */
  forgeTokenRows(): Promise<ForgeTokenRow[]>;
  /** Deletes events older than `before`. */
  reapEvents(before: number): Promise<number>;
}

const GRANT_VIEW = `SELECT g.id, g.person_id AS personId, g.login, g.client_id AS clientId, c.source AS clientSource,
  c.metadata AS clientMetadata, g.scope, g.created_at AS createdAt, g.last_used_at AS lastUsedAt,
  g.revoked_at AS revokedAt, g.revoked_reason AS revokedReason
  FROM oauth_grants g JOIN oauth_clients c ON c.client_id = g.client_id`;

export function createControlStore(db: Db): ControlStore {
  const touch = db.prepare('UPDATE oauth_grants SET last_used_at = ? WHERE id = ?');
  const revokeGrant = db.prepare('UPDATE oauth_grants SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL');
  const revokeTokens = db.prepare('UPDATE oauth_tokens SET revoked_at = ?, successor_sealed = NULL WHERE grant_id = ? AND revoked_at IS NULL');
  const clientGrants = db.prepare('SELECT id FROM oauth_grants WHERE client_id = ? AND revoked_at IS NULL').pluck();
  const personGrants = db.prepare('SELECT id FROM oauth_grants WHERE person_id = ? AND revoked_at IS NULL').pluck();
  const event = db.prepare('INSERT INTO control_events (at, kind, person_id, grant_ids) VALUES (?, ?, ?, ?)');
  const people = db.prepare(
    `SELECT p.person_id AS personId, p.login,
       (SELECT count(*) FROM oauth_grants g WHERE g.person_id = p.person_id AND g.revoked_at IS NULL) AS activeGrants,
       (SELECT count(DISTINCT client_id) FROM oauth_grants g WHERE g.person_id = p.person_id AND g.revoked_at IS NULL) AS clients,
       max(coalesce((SELECT max(coalesce(g.last_used_at, g.created_at)) FROM oauth_grants g WHERE g.person_id = p.person_id), 0),
           coalesce((SELECT f.updated_at FROM forge_tokens f WHERE f.person_id = p.person_id), 0)) AS lastActivityAt,
       EXISTS (SELECT 1 FROM forge_tokens f WHERE f.person_id = p.person_id) AS forgeSignedIn
     FROM (SELECT person_id, login FROM forge_tokens
           UNION SELECT person_id, max(login) FROM oauth_grants GROUP BY person_id) p
     GROUP BY p.person_id ORDER BY p.login`,
  );
  const clients = db.prepare(
    `SELECT c.client_id AS clientId, c.source, c.metadata, c.created_at AS createdAt, c.last_used_at AS lastUsedAt,
       (SELECT count(*) FROM oauth_grants g WHERE g.client_id = c.client_id AND g.revoked_at IS NULL) AS activeGrants,
       (SELECT count(DISTINCT person_id) FROM oauth_grants g WHERE g.client_id = c.client_id AND g.revoked_at IS NULL) AS people
     FROM oauth_clients c ORDER BY c.created_at`,
  );
  const findPerson = db.prepare(
    `SELECT person_id AS personId, login FROM forge_tokens WHERE lower(login) = lower(?)
     UNION ALL SELECT person_id, login FROM (SELECT person_id, login FROM oauth_grants WHERE lower(login) = lower(?) ORDER BY created_at DESC LIMIT 1)
     LIMIT 1`,
  );
  const block = db.prepare(
    `INSERT INTO person_blocks (login, person_id, blocked_at, reason) VALUES (lower(?), ?, ?, ?)
     ON CONFLICT (login) DO UPDATE SET person_id = coalesce(excluded.person_id, person_blocks.person_id), reason = excluded.reason`,
  );
  const unblock = db.prepare('DELETE FROM person_blocks WHERE login = lower(?)');
  const isBlocked = db.prepare('SELECT 1 FROM person_blocks WHERE person_id = ? OR login = lower(?) LIMIT 1').pluck();
  const blocks = db.prepare('SELECT login, person_id AS personId, blocked_at AS blockedAt, reason FROM person_blocks ORDER BY login');
  const eventsAfter = db.prepare('SELECT id, at, kind, person_id AS personId, grant_ids AS grantIds FROM control_events WHERE id > ? ORDER BY id');
  const lastEvent = db.prepare('SELECT coalesce(max(id), 0) FROM control_events').pluck();
  const hasGrant = db.prepare('SELECT 1 FROM oauth_grants WHERE person_id = ? AND revoked_at IS NULL LIMIT 1').pluck();
  const getState = db.prepare('SELECT value FROM broker_state WHERE name = ?').pluck();
  const putState = db.prepare(
    'INSERT INTO broker_state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
  );
  const initState = db.prepare('INSERT INTO broker_state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING');
  const forgeRows = db.prepare(
    `SELECT person_id AS personId, login, sealed, issued_at AS issuedAt, expires_at AS expiresAt, updated_at AS updatedAt, version FROM forge_tokens`,
  );
  const reapEvents = db.prepare('DELETE FROM control_events WHERE at < ?');

  const revokeAll = (ids: readonly string[], reason: string, now: number): string[] =>
    ids.filter((id) => {
      const changed = revokeGrant.run(now, reason, id).changes === 1;
      revokeTokens.run(now, id);
      return changed;
    });
  const revokeGrantsTx = db.transaction((ids: readonly string[], reason: string, now: number): string[] => {
    const done = revokeAll(ids, reason, now);
    if (done.length) event.run(now, 'grants', null, JSON.stringify(done));
    return done;
  });
  const revokeClientTx = db.transaction((clientId: string, reason: string, now: number): string[] => {
    const done = revokeAll(clientGrants.all(clientId) as string[], reason, now);
    if (done.length) event.run(now, 'grants', null, JSON.stringify(done));
    return done;
  });
  const revokePersonTx = db.transaction((personId: string, reason: string, now: number): string[] => {
    const done = revokeAll(personGrants.all(personId) as string[], reason, now);
    event.run(now, 'person', personId, JSON.stringify(done));
    return done;
  });
  const blockTx = db.transaction((login: string, personId: string | null, reason: string | null, now: number) => {
    block.run(login, personId, now, reason);
    event.run(now, 'block', personId, '[]');
  });
  const initTx = db.transaction((name: string, value: string, now: number): string => {
    initState.run(name, value, now);
    return getState.get(name) as string;
  });

  return {
    touchGrant: async (id, now) => void touch.run(now, id),
    async grants(filter = {}) {
      const where: string[] = [];
      const args: string[] = [];
      if (filter.personId) (where.push('g.person_id = ?'), args.push(filter.personId));
      if (filter.clientId) (where.push('g.client_id = ?'), args.push(filter.clientId));
      if (filter.activeOnly) where.push('g.revoked_at IS NULL');
      const sql = `${GRANT_VIEW}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY g.created_at`;
      return db.prepare(sql).all(...args) as GrantView[];
    },
    people: async () => (people.all() as (Omit<PersonView, 'forgeSignedIn' | 'lastActivityAt'> & { forgeSignedIn: number; lastActivityAt: number })[])
      .map((p) => ({ ...p, forgeSignedIn: p.forgeSignedIn === 1, lastActivityAt: p.lastActivityAt || null })),
    clients: async () => clients.all() as ClientView[],
    findPerson: async (login) => findPerson.get(login, login) as { personId: string; login: string } | undefined,
    revokeGrants: async (ids, reason, now) => revokeGrantsTx(ids, reason, now),
    revokeClient: async (clientId, reason, now) => revokeClientTx(clientId, reason, now),
    revokePerson: async (personId, reason, now) => revokePersonTx(personId, reason, now),
    block: async (login, personId, reason, now) => blockTx(login, personId, reason, now),
    unblock: async (login) => unblock.run(login).changes === 1,
    isBlocked: async (personId, login) => isBlocked.get(personId, login) === 1,
    blocks: async () => blocks.all() as BlockRow[],
    eventsAfter: async (afterId) =>
      (eventsAfter.all(afterId) as (Omit<ControlEvent, 'grantIds'> & { grantIds: string | null })[]).map((e) => ({
        ...e,
        grantIds: e.grantIds ? (JSON.parse(e.grantIds) as string[]) : [],
      })),
    lastEventId: async () => lastEvent.get() as number,
    hasActiveGrant: async (personId) => hasGrant.get(personId) === 1,
    getState: async (name) => getState.get(name) as string | undefined,
    putState: async (name, value, now) => void putState.run(name, value, now),
    initState: async (name, value, now) => initTx(name, value, now),
    forgeTokenRows: async () => forgeRows.all() as ForgeTokenRow[],
    reapEvents: async (before) => reapEvents.run(before).changes,
  };
}
