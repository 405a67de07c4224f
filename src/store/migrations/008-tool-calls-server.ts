/**
 * @module store/migrations/008-tool-calls-server
 * The server a tool call went to (issue 15: several MCP servers behind one broker): its name as
 * in the policy file's `servers`, NULL for the server at `/mcp` (every row written before).
 */
import type { Migration } from './index.js';

export const migration: Migration = {
  id: '008-tool-calls-server',
  sql: `
ALTER TABLE tool_calls ADD COLUMN server TEXT;
`,
};
