/**
 * @module store/postgres/migrations/008-tool-calls-server
 * PostgreSQL twin of src/store/migrations/008-tool-calls-server.ts.
 */
import type { Migration } from '../../migrations/index.js';

export const migration: Migration = {
  id: '008-tool-calls-server',
  sql: `
ALTER TABLE tool_calls ADD COLUMN server TEXT;
`,
};
