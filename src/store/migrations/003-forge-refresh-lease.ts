/**
 * @module store/migrations/003-forge-refresh-lease
 * A lease on a person's forge refresh, so that of several broker processes on one store only
 * one refreshes a person's forge tokens at a time (Forgejo's default INVALIDATE_REFRESH_TOKENS
 * lets a refresh token be used once; a second concurrent use would end the person's grant).
 * `refresh_lease_owner` names the holder (random per attempt); `refresh_lease_until` (ms since
 * the epoch) ends a lease whose holder died.
 */
import type { Migration } from './index.js';

export const migration: Migration = {
  id: '003-forge-refresh-lease',
  sql: `
ALTER TABLE forge_tokens ADD COLUMN refresh_lease_owner TEXT;
ALTER TABLE forge_tokens ADD COLUMN refresh_lease_until INTEGER;
`,
};
