/**
 * @module store/grants
 * SQL for grants (one completed authorization: person × client, the root of one refresh-token
 * family) and their authorization codes (by SHA-256 hash). Consuming a code is one transaction
 * that also detects replay. Revoking a grant revokes every token issued under it.
 * Times in ms since the epoch.
 */
import type { Db } from './db.js';

export interface GrantRow {
  id: string;
  personId: string;
  login: string;
  clientId: string;
  scope: string;
  resource: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface CodeRow {
  hash: string;
  grantId: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  scope: string;
  expiresAt: number;
  usedAt: number | null;
}

/** Outcome of {@link GrantStore.consumeCode}. */
export type ConsumeResult =
  | { kind: 'ok'; code: CodeRow }
  | { kind: 'unknown' }
  /** The code had been used before; its grant has now been revoked (RFC 6749 §4.1.2). */
  | { kind: 'replayed'; code: CodeRow };

export interface GrantStore {
  /** Creates the grant and its authorization code in one transaction. */
  createWithCode(grant: Omit<GrantRow, 'revokedAt'>, code: Omit<CodeRow, 'usedAt' | 'grantId'>): Promise<void>;
  get(id: string): Promise<GrantRow | undefined>;
  /** Marks the code used; a second use revokes the grant and everything issued under it. */
  consumeCode(hash: string, now: number): Promise<ConsumeResult>;
  /** Revokes one grant and all its tokens. @returns true if it was active. */
  revoke(id: string, reason: string, now: number): Promise<boolean>;
  /** Revokes all active grants of a person. @returns the revoked grant ids. */
  revokeForPerson(personId: string, reason: string, now: number): Promise<string[]>;
  /**
   * Deletes codes past expiry plus `codeKeepMs` (kept that long to detect replay), grants revoked
   * before `before`, and grants created before `before` that hold no live token or code.
   */
  reap(now: number, codeKeepMs: number, before: number): Promise<number>;
}

const GRANT_COLS = `id, person_id AS personId, login, client_id AS clientId, scope, resource,
  created_at AS createdAt, revoked_at AS revokedAt`;
const CODE_COLS = `hash, grant_id AS grantId, client_id AS clientId, redirect_uri AS redirectUri,
  code_challenge AS codeChallenge, resource, scope, expires_at AS expiresAt, used_at AS usedAt`;

export function createGrantStore(db: Db): GrantStore {
  const insGrant = db.prepare(
    `INSERT INTO oauth_grants (id, person_id, login, client_id, scope, resource, created_at)
     VALUES (@id, @personId, @login, @clientId, @scope, @resource, @createdAt)`,
  );
  const insCode = db.prepare(
    `INSERT INTO oauth_codes (hash, grant_id, client_id, redirect_uri, code_challenge, resource, scope, expires_at)
     VALUES (@hash, @grantId, @clientId, @redirectUri, @codeChallenge, @resource, @scope, @expiresAt)`,
  );
  const getGrant = db.prepare(`SELECT ${GRANT_COLS} FROM oauth_grants WHERE id = ?`);
  const getCode = db.prepare(`SELECT ${CODE_COLS} FROM oauth_codes WHERE hash = ?`);
  const useCode = db.prepare('UPDATE oauth_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL');
  const revokeGrant = db.prepare(
    'UPDATE oauth_grants SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL',
  );
  const revokeTokens = db.prepare(
    'UPDATE oauth_tokens SET revoked_at = ?, successor_sealed = NULL WHERE grant_id = ? AND revoked_at IS NULL',
  );
  const personGrants = db.prepare('SELECT id FROM oauth_grants WHERE person_id = ? AND revoked_at IS NULL').pluck();
  const reapCodes = db.prepare('DELETE FROM oauth_codes WHERE expires_at < ?');
  const reapGrants = db.prepare(
    `DELETE FROM oauth_grants WHERE (revoked_at IS NOT NULL AND revoked_at < @before)
       OR (created_at < @before
           AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.grant_id = oauth_grants.id AND t.expires_at > @now)
           AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.grant_id = oauth_grants.id))`,
  );

  const revoke = (id: string, reason: string, now: number): boolean => {
    const changed = revokeGrant.run(now, reason, id).changes === 1;
    revokeTokens.run(now, id);
    return changed;
  };
  const createWithCode = db.transaction((g: Omit<GrantRow, 'revokedAt'>, c: Omit<CodeRow, 'usedAt' | 'grantId'>) => {
    insGrant.run(g);
    insCode.run({ ...c, grantId: g.id });
  });
  const consume = db.transaction((hash: string, now: number): ConsumeResult => {
    const code = getCode.get(hash) as CodeRow | undefined;
    if (!code) return { kind: 'unknown' };
    if (useCode.run(now, hash).changes === 1) return { kind: 'ok', code };
    revoke(code.grantId, 'authorization code replayed', now);
    return { kind: 'replayed', code };
  });
  const revokePerson = db.transaction((personId: string, reason: string, now: number): string[] => {
    const ids = personGrants.all(personId) as string[];
    for (const id of ids) revoke(id, reason, now);
    return ids;
  });
  const revokeTx = db.transaction(revoke);
  const reap = db.transaction((now: number, codeKeepMs: number, before: number): number =>
    reapCodes.run(now - codeKeepMs).changes + reapGrants.run({ now, before }).changes,
  );
  return {
    createWithCode: async (g, c) => createWithCode(g, c),
    get: async (id) => getGrant.get(id) as GrantRow | undefined,
    consumeCode: async (hash, now) => consume(hash, now),
    revoke: async (id, reason, now) => revokeTx(id, reason, now),
    revokeForPerson: async (p, r, now) => revokePerson(p, r, now),
    reap: async (now, keep, before) => reap(now, keep, before),
  };
}
