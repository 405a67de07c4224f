/**
 * @module store/postgres/migrations
 * The PostgreSQL twins of src/store/migrations/, with the same ids in the same order (a test
 * checks it). Append only. Differences from SQLite: times and counters are BIGINT (ms since the
 * epoch), text is TEXT; otherwise the same tables, keys, indexes and checks.
 */
import type { Migration } from '../../migrations/index.js';
import { migration as oauth001 } from './001-oauth.js';
import { migration as forgeTokens002 } from './002-forge-tokens.js';
import { migration as forgeRefreshLease003 } from './003-forge-refresh-lease.js';
import { migration as toolCalls004 } from './004-tool-calls.js';
import { migration as control005 } from './005-control.js';
import { migration as account006 } from './006-account.js';
import { migration as personalTokens007 } from './007-personal-tokens.js';
import { migration as toolCallsServer008 } from './008-tool-calls-server.js';
import { migration as clientAssertions009 } from './009-client-assertions.js';

export const MIGRATIONS: readonly Migration[] = [
  oauth001,
  forgeTokens002,
  forgeRefreshLease003,
  toolCalls004,
  control005,
  account006,
  personalTokens007,
  toolCallsServer008,
  clientAssertions009,
];
