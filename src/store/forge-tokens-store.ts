/**
 * @module store/forge-tokens-store
 * The only SQL for `forge_tokens` (migration 002): one row per person holding their newest forge
 * token set as an opaque sealed box. This module never sees plaintext tokens; sealing and
 * opening belong to upstream/forge-tokens. Writes of new tokens bump `version`, so callers can
 * compare-and-set after a slow forge refresh instead of overwriting a newer sign-in.
 */
import type { Db } from './db.js';

/** A stored row. Times are ms since the epoch. */
export interface ForgeTokenRow {
  personId: string;
  login: string;
  /** `Sealer` box of the JSON token pair, AAD = person id. */
  sealed: string;
  /** When the access token was obtained (start of its lifetime). */
  issuedAt: number;
  /** When the access token expires. */
  expiresAt: number;
  updatedAt: number;
  /** Grows by one with every write of new tokens (not with a re-seal). */
  version: number;
}

/** New tokens for a person; `version` and `updatedAt` are the store's business. */
export type ForgeTokenWrite = Pick<ForgeTokenRow, 'personId' | 'login' | 'sealed' | 'issuedAt' | 'expiresAt'>;

export interface ForgeTokenStore {
  get(personId: string): Promise<ForgeTokenRow | undefined>;
  /** Inserts or replaces the person's row (newest sign-in wins); returns the new version. */
  put(row: ForgeTokenWrite, now: number): Promise<number>;
  /**
   * Replaces the row only if it still has `expectedVersion` (compare-and-set after a refresh).
   * @returns the new version, or `undefined` when the row changed or vanished meanwhile.
   */
  replaceIfVersion(row: ForgeTokenWrite, expectedVersion: number, now: number): Promise<number | undefined>;
  /** Swaps the sealed box of an unchanged row (key rotation); keeps the version. */
  resealIfVersion(personId: string, expectedVersion: number, sealed: string): Promise<boolean>;
  /** Deletes the row; true when there was one. */
  delete(personId: string): Promise<boolean>;
  /** Deletes the row only if it still has `expectedVersion`; true when it did. */
  deleteIfVersion(personId: string, expectedVersion: number): Promise<boolean>;
  /**
   * Takes the person's refresh lease (migration 003) for `owner` until `until` (ms) when nobody
   * holds it, or its holder's lease ended before `now`. Across broker processes on one store, one
   * holder at a time refreshes a person's forge tokens.
   * @returns true when `owner` holds the lease now; false when another holder does or there is no row.
   */
  acquireRefreshLease(personId: string, owner: string, now: number, until: number): Promise<boolean>;
  /** Gives the lease back if `owner` still holds it. */
  releaseRefreshLease(personId: string, owner: string): Promise<void>;
}

interface RawRow {
  person_id: string;
  login: string;
  sealed: string;
  issued_at: number;
  expires_at: number;
  updated_at: number;
  version: number;
}

export function createForgeTokenStore(db: Db): ForgeTokenStore {
  const select = db.prepare<[string], RawRow>('SELECT * FROM forge_tokens WHERE person_id = ?');
  const upsert = db.prepare<[string, string, string, number, number, number]>(
    `INSERT INTO forge_tokens (person_id, login, sealed, issued_at, expires_at, updated_at, version)
     VALUES (?, ?, ?, ?, ?, ?, 1)
     ON CONFLICT (person_id) DO UPDATE SET login = excluded.login, sealed = excluded.sealed,
       issued_at = excluded.issued_at, expires_at = excluded.expires_at,
       updated_at = excluded.updated_at, version = forge_tokens.version + 1
     RETURNING version`,
  );
  const cas = db.prepare<[string, string, number, number, number, string, number]>(
    `UPDATE forge_tokens SET login = ?, sealed = ?, issued_at = ?, expires_at = ?, updated_at = ?,
       version = version + 1
     WHERE person_id = ? AND version = ? RETURNING version`,
  );
  const reseal = db.prepare<[string, string, number]>('UPDATE forge_tokens SET sealed = ? WHERE person_id = ? AND version = ?');
  const del = db.prepare<[string]>('DELETE FROM forge_tokens WHERE person_id = ?');
  const delIf = db.prepare<[string, number]>('DELETE FROM forge_tokens WHERE person_id = ? AND version = ?');
  const lease = db.prepare<[string, number, string, number]>(
    `UPDATE forge_tokens SET refresh_lease_owner = ?, refresh_lease_until = ?
     WHERE person_id = ? AND (refresh_lease_until IS NULL OR refresh_lease_until <= ?)`,
  );
  const unlease = db.prepare<[string, string]>(
    'UPDATE forge_tokens SET refresh_lease_owner = NULL, refresh_lease_until = NULL WHERE person_id = ? AND refresh_lease_owner = ?',
  );

  return {
    async get(personId) {
      const r = select.get(personId);
      return r && {
        personId: r.person_id,
        login: r.login,
        sealed: r.sealed,
        issuedAt: r.issued_at,
        expiresAt: r.expires_at,
        updatedAt: r.updated_at,
        version: r.version,
      };
    },
    async put(row, now) {
      const r = upsert.get(row.personId, row.login, row.sealed, row.issuedAt, row.expiresAt, now) as { version: number };
      return r.version;
    },
    async replaceIfVersion(row, expectedVersion, now) {
      const r = cas.get(row.login, row.sealed, row.issuedAt, row.expiresAt, now, row.personId, expectedVersion) as
        | { version: number }
        | undefined;
      return r?.version;
    },
    async resealIfVersion(personId, expectedVersion, sealed) {
      return reseal.run(sealed, personId, expectedVersion).changes === 1;
    },
    async delete(personId) {
      return del.run(personId).changes === 1;
    },
    async deleteIfVersion(personId, expectedVersion) {
      return delIf.run(personId, expectedVersion).changes === 1;
    },
    async acquireRefreshLease(personId, owner, now, until) {
      return lease.run(owner, until, personId, now).changes === 1;
    },
    async releaseRefreshLease(personId, owner) {
      unlease.run(personId, owner);
    },
  };
}
