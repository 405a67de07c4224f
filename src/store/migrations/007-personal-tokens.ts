/**
 * @module store/migrations/007-personal-tokens
 * Personal access tokens (issue 12): each is a grant of its person to the broker's built-in
 * client `fjmcp-personal-access-token` with one long-lived access token (in `oauth_tokens`, by
 * SHA-256 hash like every token). This table adds what the account page shows: its name and
 * expiry. The token's id is its grant id, so revoking, blocking and the revocation queue treat
 * it like any other connection. Times in ms.
 */
import type { Migration } from './index.js';

export const migration: Migration = {
  id: '007-personal-tokens',
  sql: `
CREATE TABLE personal_access_tokens (
  grant_id   TEXT PRIMARY KEY REFERENCES oauth_grants(id) ON DELETE CASCADE,
  person_id  TEXT NOT NULL,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX personal_access_tokens_person ON personal_access_tokens(person_id);
`,
};
