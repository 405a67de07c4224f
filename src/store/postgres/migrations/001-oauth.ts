/**
 * @module store/postgres/migrations/001-oauth
 * PostgreSQL twin of src/store/migrations/001-oauth.ts (times BIGINT, ms since the epoch).
 */
import type { Migration } from '../../migrations/index.js';

export const migration: Migration = {
  id: '001-oauth',
  sql: `
CREATE TABLE oauth_clients (
  client_id    TEXT PRIMARY KEY,
  source       TEXT NOT NULL CHECK (source IN ('dcr', 'cimd')),
  metadata     TEXT NOT NULL,
  secret_hash  TEXT,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT,
  fresh_until  BIGINT
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
  created_at            BIGINT NOT NULL,
  expires_at            BIGINT NOT NULL
);

CREATE TABLE oauth_grants (
  id             TEXT PRIMARY KEY,
  person_id      TEXT NOT NULL,
  login          TEXT NOT NULL,
  client_id      TEXT NOT NULL REFERENCES oauth_clients(client_id),
  scope          TEXT NOT NULL,
  resource       TEXT NOT NULL,
  created_at     BIGINT NOT NULL,
  revoked_at     BIGINT,
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
  expires_at     BIGINT NOT NULL,
  used_at        BIGINT
);
CREATE INDEX oauth_codes_grant ON oauth_codes(grant_id);

CREATE TABLE oauth_tokens (
  hash             TEXT PRIMARY KEY,
  kind             TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
  grant_id         TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  client_id        TEXT NOT NULL,
  scope            TEXT NOT NULL,
  resource         TEXT NOT NULL,
  created_at       BIGINT NOT NULL,
  expires_at       BIGINT NOT NULL,
  revoked_at       BIGINT,
  rotated_at       BIGINT,
  successor_sealed TEXT,
  grace_until      BIGINT
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens(grant_id);
`,
};
