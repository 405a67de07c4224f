/**
 * @module store/postgres/migrations/009-client-assertions
 * PostgreSQL twin of src/store/migrations/009-client-assertions.ts.
 */
import type { Migration } from '../../migrations/index.js';

export const migration: Migration = {
  id: '009-client-assertions',
  sql: `
CREATE TABLE oauth_client_assertions (
  client_id  TEXT NOT NULL,
  jti        TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX oauth_client_assertions_expiry ON oauth_client_assertions(expires_at);
`,
};
