/**
 * @module store/migrations
 * The ordered list of schema migrations. Append only: a released migration is never edited.
 * Each file exports `migration: { id, sql }`; add one import line and one list entry per file.
 */
import { migration as oauth001 } from './001-oauth.js';
import { migration as forgeTokens002 } from './002-forge-tokens.js';
import { migration as forgeRefreshLease003 } from './003-forge-refresh-lease.js';
import { migration as toolCalls004 } from './004-tool-calls.js';
import { migration as control005 } from './005-control.js';
import { migration as account006 } from './006-account.js';
import { migration as personalTokens007 } from './007-personal-tokens.js';
import { migration as toolCallsServer008 } from './008-tool-calls-server.js';
import { migration as clientAssertions009 } from './009-client-assertions.js';

export interface Migration {
  /** Sortable unique id, e.g. `001-oauth`. */
  id: string;
  sql: string;
}

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
