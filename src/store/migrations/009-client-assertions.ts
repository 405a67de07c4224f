/**
 * @module store/migrations/009-client-assertions
 * Replay protection for `private_key_jwt` client authentication (RFC 7523 §3 item 7): the `jti`
 * of every accepted client assertion is kept until the assertion expires, so the same JWT is
 * accepted once, on every replica. Rows are deleted by the reaper once `expires_at` (ms) passes.
 */
import type { Migration } from './index.js';

export const migration: Migration = {
  id: '009-client-assertions',
  sql: `
CREATE TABLE oauth_client_assertions (
  client_id  TEXT NOT NULL,
  jti        TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, jti)
) STRICT;
CREATE INDEX oauth_client_assertions_expiry ON oauth_client_assertions(expires_at);
`,
};
