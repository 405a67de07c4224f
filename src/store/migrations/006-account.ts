/**
 * @module store/migrations/006-account
 * The account page's own sign-in (through the forge, with the broker's OAuth application): a
 * login in progress (forge `state` and browser binding by SHA-256 hash, the PKCE verifier sealed)
 * and the short-lived account sessions (by SHA-256 hash of the cookie value). Times in ms.
 */
import type { Migration } from './index.js';

export const migration: Migration = {
  id: '006-account',
  sql: `
CREATE TABLE account_logins (
  state_hash      TEXT PRIMARY KEY,
  browser_hash    TEXT NOT NULL,
  verifier_sealed TEXT NOT NULL,
  expires_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE account_sessions (
  id_hash    TEXT PRIMARY KEY,
  person_id  TEXT NOT NULL,
  login      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX account_sessions_person ON account_sessions(person_id);
`,
};
