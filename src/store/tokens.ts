/**
 * @module store/tokens
 * SQL for access and refresh tokens, stored by SHA-256 hash only. A refresh token, once
 * exchanged, keeps `rotated_at` and, for the grace window only, its successor response sealed
 * (AES-256-GCM, AAD = grant id) so a retried refresh returns the same successor; the reaper wipes
 * it after `grace_until`. Times in ms since the epoch.
 */
import type { Db } from './db.js';
import type { GrantRow } from './grants.js';

export interface TokenRow {
  hash: string;
  kind: 'access' | 'refresh';
  grantId: string;
  clientId: string;
  scope: string;
  resource: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  rotatedAt: number | null;
  successorSealed: string | null;
  graceUntil: number | null;
}

/** A token joined with its grant (who it is for). */
export interface TokenWithGrant extends TokenRow {
  grant: GrantRow;
}

export type NewToken = Pick<TokenRow, 'hash' | 'kind' | 'grantId' | 'clientId' | 'scope' | 'resource' | 'createdAt' | 'expiresAt'>;

export interface TokenStore {
  insert(...tokens: NewToken[]): Promise<void>;
  find(hash: string): Promise<TokenWithGrant | undefined>;
  /**
   * Rotates a refresh token in one transaction: marks `oldHash` rotated with the sealed successor
   * and inserts the successor tokens.
   * @returns false if `oldHash` was rotated or revoked in the meantime (lost a race).
   */
  rotate(oldHash: string, successorSealed: string | null, now: number, graceUntil: number, successors: NewToken[]): Promise<boolean>;
  /** Revokes one token. @returns true if it was active. */
  revoke(hash: string, now: number): Promise<boolean>;
  /** Deletes expired tokens and wipes sealed successors whose grace window has passed. */
  reap(now: number): Promise<number>;
}

const COLS = `t.hash, t.kind, t.grant_id AS grantId, t.client_id AS clientId, t.scope, t.resource,
  t.created_at AS createdAt, t.expires_at AS expiresAt, t.revoked_at AS revokedAt, t.rotated_at AS rotatedAt,
  t.successor_sealed AS successorSealed, t.grace_until AS graceUntil,
  g.person_id AS gPersonId, g.login AS gLogin, g.client_id AS gClientId, g.scope AS gScope,
  g.resource AS gResource, g.created_at AS gCreatedAt, g.revoked_at AS gRevokedAt`;

type Joined = TokenRow & {
  gPersonId: string; gLogin: string; gClientId: string; gScope: string; gResource: string; gCreatedAt: number; gRevokedAt: number | null;
};

export function createTokenStore(db: Db): TokenStore {
  const ins = db.prepare(
    `INSERT INTO oauth_tokens (hash, kind, grant_id, client_id, scope, resource, created_at, expires_at)
     VALUES (@hash, @kind, @grantId, @clientId, @scope, @resource, @createdAt, @expiresAt)`,
  );
  const find = db.prepare(`SELECT ${COLS} FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id WHERE t.hash = ?`);
  const markRotated = db.prepare(
    `UPDATE oauth_tokens SET rotated_at = ?, successor_sealed = ?, grace_until = ?
     WHERE hash = ? AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL`,
  );
  const revoke = db.prepare('UPDATE oauth_tokens SET revoked_at = ?, successor_sealed = NULL WHERE hash = ? AND revoked_at IS NULL');
  const reapExpired = db.prepare('DELETE FROM oauth_tokens WHERE expires_at < ?');
  const wipe = db.prepare('UPDATE oauth_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND grace_until < ?');

  const insertAll = db.transaction((tokens: NewToken[]) => {
    for (const t of tokens) ins.run(t);
  });
  const rotate = db.transaction((oldHash: string, sealed: string | null, now: number, graceUntil: number, successors: NewToken[]) => {
    if (markRotated.run(now, sealed, graceUntil, oldHash).changes !== 1) return false;
    for (const t of successors) ins.run(t);
    return true;
  });
  const reap = db.transaction((now: number) => wipe.run(now).changes + reapExpired.run(now).changes);
  return {
    insert: async (...tokens) => insertAll(tokens),
    find: async (hash) => {
      const r = find.get(hash) as Joined | undefined;
      if (!r) return undefined;
      const { gPersonId, gLogin, gClientId, gScope, gResource, gCreatedAt, gRevokedAt, ...t } = r;
      return {
        ...t,
        grant: { id: t.grantId, personId: gPersonId, login: gLogin, clientId: gClientId, scope: gScope, resource: gResource, createdAt: gCreatedAt, revokedAt: gRevokedAt },
      };
    },
    rotate: async (h, s, now, g, succ) => rotate(h, s, now, g, succ),
    revoke: async (hash, now) => revoke.run(now, hash).changes === 1,
    reap: async (now) => reap(now),
  };
}
