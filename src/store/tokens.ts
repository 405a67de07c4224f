/**
 * @module store/tokens
 * SQL for access and refresh tokens, stored by SHA-256 hash only. A refresh token, once
 * exchanged, keeps `rotated_at` and, for the grace window only, its successor response sealed
 * (AES-256-GCM, AAD = grant id) so a retried refresh returns the same successor; the reaper wipes
 * it after `grace_until`. Times in ms since the epoch.
 */
import type { Db } from './db.js';
import type { ForgeTokenRow } from './forge-tokens-store.js';
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

/**
 * What the bearer check in front of `/mcp` needs, read by one statement: the token with its
 * grant, whether the grant's person is blocked (as store/control.ts `isBlocked`: by person id or
 * login, case-insensitive), and the person's stored forge token row (sealed, as
 * store/forge-tokens-store.ts `get`). Nothing is cached: a revocation or block committed before the read
 * is seen by it.
 */
export interface BearerCheck {
  token: TokenWithGrant;
  blocked: boolean;
  /** The person's forge token row; undefined when the store holds none (signed out of the forge). */
  forge: ForgeTokenRow | undefined;
}

export type NewToken = Pick<TokenRow, 'hash' | 'kind' | 'grantId' | 'clientId' | 'scope' | 'resource' | 'createdAt' | 'expiresAt'>;

export interface TokenStore {
  insert(...tokens: NewToken[]): Promise<void>;
  find(hash: string): Promise<TokenWithGrant | undefined>;
  /**
   * The bearer check's read (see {@link BearerCheck}) in one statement — one round trip on
   * PostgreSQL instead of three. @returns undefined when no token has this hash.
   */
  findForBearer(hash: string): Promise<BearerCheck | undefined>;
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

/** The bearer check's extra columns: the block flag and the person's forge token row (LEFT JOIN). */
const BEARER_COLS = `EXISTS (SELECT 1 FROM person_blocks b WHERE b.person_id = g.person_id OR b.login = lower(g.login)) AS blocked,
  f.login AS fLogin, f.sealed AS fSealed, f.issued_at AS fIssuedAt, f.expires_at AS fExpiresAt, f.updated_at AS fUpdatedAt, f.version AS fVersion`;
const BEARER_FROM = `FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
  LEFT JOIN forge_tokens f ON f.person_id = g.person_id WHERE t.hash = ?`;

export type Joined = TokenRow & {
  gPersonId: string; gLogin: string; gClientId: string; gScope: string; gResource: string; gCreatedAt: number; gRevokedAt: number | null;
};

/** Joined forge columns of the bearer check (all null when the person has no forge token row). */
export type BearerJoined = Joined & {
  blocked: number | boolean;
  fLogin: string | null; fSealed: string | null; fIssuedAt: number | null; fExpiresAt: number | null; fUpdatedAt: number | null; fVersion: number | null;
};

/** A joined row as {@link TokenWithGrant} (shared by both engines). */
export function withGrant(r: Joined): TokenWithGrant {
  const { gPersonId, gLogin, gClientId, gScope, gResource, gCreatedAt, gRevokedAt, ...t } = r;
  return {
    ...t,
    grant: { id: t.grantId, personId: gPersonId, login: gLogin, clientId: gClientId, scope: gScope, resource: gResource, createdAt: gCreatedAt, revokedAt: gRevokedAt },
  };
}

/** A bearer-check row as {@link BearerCheck} (shared by both engines). */
export function bearerCheck(r: BearerJoined): BearerCheck {
  const { blocked, fLogin, fSealed, fIssuedAt, fExpiresAt, fUpdatedAt, fVersion, ...joined } = r;
  const token = withGrant(joined);
  const forge = fSealed === null
    ? undefined
    : { personId: token.grant.personId, login: fLogin!, sealed: fSealed, issuedAt: fIssuedAt!, expiresAt: fExpiresAt!, updatedAt: fUpdatedAt!, version: fVersion! };
  return { token, blocked: blocked === 1 || blocked === true, forge };
}

export function createTokenStore(db: Db): TokenStore {
  const ins = db.prepare(
    `INSERT INTO oauth_tokens (hash, kind, grant_id, client_id, scope, resource, created_at, expires_at)
     VALUES (@hash, @kind, @grantId, @clientId, @scope, @resource, @createdAt, @expiresAt)`,
  );
  const find = db.prepare(`SELECT ${COLS} FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id WHERE t.hash = ?`);
  const forBearer = db.prepare(`SELECT ${COLS}, ${BEARER_COLS} ${BEARER_FROM}`);
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

  // Group commit. With synchronous=FULL every COMMIT waits for the disk (fsync of the WAL), and
  // better-sqlite3 waits on the event loop. Rotations requested in the same turn of the event loop
  // (concurrent /token requests) are therefore committed together: one transaction, each rotation
  // in its own savepoint (a nested better-sqlite3 transaction), so each one still wins, loses its
  // race or fails on its own. Nobody's promise settles before the COMMIT that holds their rows.
  type PendingRotation = { args: Parameters<typeof rotate>; resolve: (won: boolean) => void; reject: (err: unknown) => void };
  let pending: PendingRotation[] = [];
  const rotateBatch = db.transaction((batch: PendingRotation[]) =>
    batch.map((r): { won: boolean } | { err: unknown } => {
      try {
        return { won: rotate(...r.args) };
      } catch (err) {
        return { err }; // this rotation's savepoint is rolled back; the others stand
      }
    }),
  );
  const flushRotations = () => {
    const batch = pending;
    pending = [];
    let results: ReturnType<typeof rotateBatch>;
    try {
      results = rotateBatch(batch);
    } catch (err) {
      for (const r of batch) r.reject(err); // the COMMIT failed: none of them happened
      return;
    }
    batch.forEach((r, i) => {
      const out = results[i]!;
      if ('err' in out) r.reject(out.err);
      else r.resolve(out.won);
    });
  };
  return {
    insert: async (...tokens) => insertAll(tokens),
    find: async (hash) => {
      const r = find.get(hash) as Joined | undefined;
      return r && withGrant(r);
    },
    findForBearer: async (hash) => {
      const r = forBearer.get(hash) as BearerJoined | undefined;
      return r && bearerCheck(r);
    },
    rotate: (h, s, now, g, succ) =>
      new Promise<boolean>((resolve, reject) => {
        pending.push({ args: [h, s, now, g, succ], resolve, reject });
        if (pending.length === 1) setImmediate(flushRotations);
      }),
    revoke: async (hash, now) => revoke.run(now, hash).changes === 1,
    reap: async (now) => reap(now),
  };
}
