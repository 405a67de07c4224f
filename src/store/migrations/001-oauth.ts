/**
 * @module store/migrations/001-oauth
 * Tables of the authorization server: clients (RFC 7591 registrations and cached RFC-draft client
 * ID metadata documents), authorization transactions (consent and forge round trip), grants,
 * authorization codes and tokens. Secrets are never stored: codes and tokens by SHA-256 hash,
 * the forge PKCE verifier and a refresh successor (grace window only) sealed with AES-256-GCM.
 * All times are ms since the epoch. See docs/storage-schema.md.
 */
import type { Migration } from './index.js';

export const migration: Migration = {
  id: '001-oauth',
  sql: `
CREATE TABLE oauth_clients (
  client_id    TEXT PRIMARY KEY,
  source       TEXT NOT NULL CHECK (source IN ('dcr', 'cimd')),
  metadata     TEXT NOT NULL,
  secret_hash  TEXT,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  fresh_until  INTEGER
);

CREATE TABLE oauth_transactions (
  id                    TEXT PRIMARY KEY,
  client_id             TEXT NOT NULL,
  redirect_uri          TEXT NOT NULL,
  state                 TEXT,
  code_challenge        TEXT NOT NULL,
  resource              TEXT NOT NULL,
  scope                 TEXT NOT NULL,
  browser_hash          TEXT NOT NULL,
  csrf_hash             TEXT NOT NULL,
  phase                 TEXT NOT NULL CHECK (phase IN ('consent', 'forge', 'done')),
  forge_state_hash      TEXT UNIQUE,
  forge_verifier_sealed TEXT,
  created_at            INTEGER NOT NULL,
  expires_at            INTEGER NOT NULL
);

CREATE TABLE oauth_grants (
  id             TEXT PRIMARY KEY,
  person_id      TEXT NOT NULL,
  login          TEXT NOT NULL,
  client_id      TEXT NOT NULL REFERENCES oauth_clients(client_id),
  scope          TEXT NOT NULL,
  resource       TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  revoked_at     INTEGER,
  revoked_reason TEXT
);
CREATE INDEX oauth_grants_person ON oauth_grants(person_id);
CREATE INDEX oauth_grants_client ON oauth_grants(client_id);

CREATE TABLE oauth_codes (
  hash           TEXT PRIMARY KEY,
  grant_id       TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  client_id      TEXT NOT NULL,
  redirect_uri   TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  resource       TEXT NOT NULL,
  scope          TEXT NOT NULL,
  expires_at     INTEGER NOT NULL,
  used_at        INTEGER
);
CREATE INDEX oauth_codes_grant ON oauth_codes(grant_id);

CREATE TABLE oauth_tokens (
  hash             TEXT PRIMARY KEY,
  kind             TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
  grant_id         TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  client_id        TEXT NOT NULL,
  scope            TEXT NOT NULL,
  resource         TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL,
  revoked_at       INTEGER,
  rotated_at       INTEGER,
  successor_sealed TEXT,
  grace_until      INTEGER
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens(grant_id);
`,
};
