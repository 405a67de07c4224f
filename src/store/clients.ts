/**
 * @module store/clients
 * SQL for OAuth clients: dynamically registered ones (RFC 7591) and the cache of client ID
 * metadata documents (CIMD), one row per `client_id`. The metadata is stored as JSON; a client
 * secret only as its SHA-256 hash. Times in ms since the epoch.
 */
import type { Db } from './db.js';

export interface ClientRow {
  clientId: string;
  source: 'dcr' | 'cimd';
  /** JSON of the parsed client metadata (see oauth/client-metadata.ts). */
  metadata: string;
  secretHash: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  /** CIMD only: the cached document is fresh until then. */
  freshUntil: number | null;
}

export interface ClientStore {
  get(clientId: string): Promise<ClientRow | undefined>;
  insert(row: ClientRow): Promise<void>;
  /** Inserts or replaces a cached CIMD document, keeping `created_at` and `last_used_at`. */
  upsertCimd(clientId: string, metadata: string, now: number, freshUntil: number): Promise<void>;
  /** Inserts a shipped CIMD document (stale at once, so it is refetched) unless a row exists. */
  seedCimd(clientId: string, metadata: string, now: number): Promise<void>;
  touch(clientId: string, now: number): Promise<void>;
  countDcr(): Promise<number>;
  /**
   * Deletes dynamically registered clients without any grant that were created before
   * `createdBefore`, then, while more than `keep` remain, the oldest unused ones.
   * @returns the number of clients deleted.
   */
  reapDcr(createdBefore: number, keep: number): Promise<number>;
  /**
   * Records the `jti` of a client assertion (RFC 7523 §3 item 7) until `expiresAt` (ms).
   * @returns true the first time this client presents this `jti`, false on a replay — on every
   *   replica at once (one insert decides).
   */
  claimAssertion(clientId: string, jti: string, expiresAt: number): Promise<boolean>;
  /** Deletes recorded assertions that expired before `now` (ms). @returns rows deleted. */
  reapAssertions(now: number): Promise<number>;
}

/** The SQLite engine's client store (see store.ts for the async contract). */
export function createClientStore(db: Db): ClientStore {
  const get = db.prepare(
    `SELECT client_id AS clientId, source, metadata, secret_hash AS secretHash, created_at AS createdAt,
            last_used_at AS lastUsedAt, fresh_until AS freshUntil FROM oauth_clients WHERE client_id = ?`,
  );
  const insert = db.prepare(
    `INSERT INTO oauth_clients (client_id, source, metadata, secret_hash, created_at, last_used_at, fresh_until)
     VALUES (@clientId, @source, @metadata, @secretHash, @createdAt, @lastUsedAt, @freshUntil)`,
  );
  const upsertCimd = db.prepare(
    `INSERT INTO oauth_clients (client_id, source, metadata, created_at, fresh_until) VALUES (?, 'cimd', ?, ?, ?)
     ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, fresh_until = excluded.fresh_until
     WHERE oauth_clients.source = 'cimd'`,
  );
  const seed = db.prepare(
    `INSERT INTO oauth_clients (client_id, source, metadata, created_at, fresh_until) VALUES (?, 'cimd', ?, ?, 0)
     ON CONFLICT (client_id) DO NOTHING`,
  );
  const touch = db.prepare('UPDATE oauth_clients SET last_used_at = ? WHERE client_id = ?');
  const countDcr = db.prepare(`SELECT count(*) FROM oauth_clients WHERE source = 'dcr'`).pluck();
  const unused = `source = 'dcr' AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = oauth_clients.client_id)`;
  const reapOld = db.prepare(`DELETE FROM oauth_clients WHERE ${unused} AND created_at < ?`);
  const reapExcess = db.prepare(
    `DELETE FROM oauth_clients WHERE client_id IN (
       SELECT client_id FROM oauth_clients WHERE ${unused} ORDER BY created_at LIMIT ?)`,
  );
  const reap = db.transaction((createdBefore: number, keep: number): number => {
    let n = reapOld.run(createdBefore).changes;
    const excess = (countDcr.get() as number) - keep;
    if (excess > 0) n += reapExcess.run(excess).changes;
    return n;
  });
  const claim = db.prepare('INSERT INTO oauth_client_assertions (client_id, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const reapAssertions = db.prepare('DELETE FROM oauth_client_assertions WHERE expires_at < ?');
  return {
    get: async (id) => get.get(id) as ClientRow | undefined,
    insert: async (row) => void insert.run(row),
    upsertCimd: async (id, metadata, now, freshUntil) => void upsertCimd.run(id, metadata, now, freshUntil),
    seedCimd: async (id, metadata, now) => void seed.run(id, metadata, now),
    touch: async (id, now) => void touch.run(now, id),
    countDcr: async () => countDcr.get() as number,
    reapDcr: async (createdBefore, keep) => reap(createdBefore, keep),
    claimAssertion: async (id, jti, expiresAt) => claim.run(id, jti, expiresAt).changes === 1,
    reapAssertions: async (now) => reapAssertions.run(now).changes,
  };
}
