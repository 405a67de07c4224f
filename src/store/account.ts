/**
 * @module store/account
 * SQL for the account page's sign-in (migration 006): logins in progress and account sessions,
 * both found by SHA-256 hashes of their secrets. Times in ms since the epoch.
 */
import type { Db } from './db.js';

export interface AccountLoginRow {
  stateHash: string;
  browserHash: string;
  verifierSealed: string;
  expiresAt: number;
}

export interface AccountSessionRow {
  idHash: string;
  personId: string;
  login: string;
  createdAt: number;
  expiresAt: number;
}

export interface AccountStore {
  insertLogin(row: AccountLoginRow): Promise<void>;
  /** True when an unexpired login with this state hash exists (the forge callback is ours). */
  hasLogin(stateHash: string, now: number): Promise<boolean>;
  /** Deletes and returns the login (single use); undefined when unknown or expired. */
  takeLogin(stateHash: string, now: number): Promise<AccountLoginRow | undefined>;
  insertSession(row: AccountSessionRow): Promise<void>;
  /** The unexpired session with this id hash. */
  session(idHash: string, now: number): Promise<AccountSessionRow | undefined>;
  deleteSession(idHash: string): Promise<void>;
  /** Deletes every session of a person (blocked, or signed out everywhere). */
  deletePersonSessions(personId: string): Promise<number>;
  /** Deletes expired logins and sessions. */
  reap(now: number): Promise<number>;
}

export function createAccountStore(db: Db): AccountStore {
  const insLogin = db.prepare('INSERT INTO account_logins (state_hash, browser_hash, verifier_sealed, expires_at) VALUES (@stateHash, @browserHash, @verifierSealed, @expiresAt)');
  const hasLogin = db.prepare('SELECT 1 FROM account_logins WHERE state_hash = ? AND expires_at > ?').pluck();
  const takeLogin = db.prepare(
    `DELETE FROM account_logins WHERE state_hash = ? AND expires_at > ?
     RETURNING state_hash AS stateHash, browser_hash AS browserHash, verifier_sealed AS verifierSealed, expires_at AS expiresAt`,
  );
  const insSession = db.prepare('INSERT INTO account_sessions (id_hash, person_id, login, created_at, expires_at) VALUES (@idHash, @personId, @login, @createdAt, @expiresAt)');
  const session = db.prepare(
    'SELECT id_hash AS idHash, person_id AS personId, login, created_at AS createdAt, expires_at AS expiresAt FROM account_sessions WHERE id_hash = ? AND expires_at > ?',
  );
  const delSession = db.prepare('DELETE FROM account_sessions WHERE id_hash = ?');
  const delPerson = db.prepare('DELETE FROM account_sessions WHERE person_id = ?');
  const reapLogins = db.prepare('DELETE FROM account_logins WHERE expires_at <= ?');
  const reapSessions = db.prepare('DELETE FROM account_sessions WHERE expires_at <= ?');
  return {
    insertLogin: async (row) => void insLogin.run(row),
    hasLogin: async (h, now) => hasLogin.get(h, now) === 1,
    takeLogin: async (h, now) => takeLogin.get(h, now) as AccountLoginRow | undefined,
    insertSession: async (row) => void insSession.run(row),
    session: async (h, now) => session.get(h, now) as AccountSessionRow | undefined,
    deleteSession: async (h) => void delSession.run(h),
    deletePersonSessions: async (p) => delPerson.run(p).changes,
    reap: async (now) => reapLogins.run(now).changes + reapSessions.run(now).changes,
  };
}
