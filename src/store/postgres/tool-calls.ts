/**
 * @module store/postgres/tool-calls
 * PostgreSQL twin of store/tool-calls.ts: the tool-call audit.
 */
import { storedServer, type ToolCallRecord, type ToolCallStore } from '../tool-calls.js';
import { changed, type PgPool } from './db.js';

const COLS = `at, person_id AS "personId", login, client_id AS "clientId", client_name AS "clientName",
  session_id AS "sessionId", tool, repository, args_sha256 AS "argsSha256", outcome, reason,
  duration_ms AS "durationMs", result_bytes AS "resultBytes", server`;

const INSERT = 'INSERT INTO tool_calls (at, person_id, login, client_id, client_name, session_id, tool, repository, args_sha256, outcome, reason, duration_ms, result_bytes, server) VALUES ';
const ROW_PARAMS = 14;
/** Rows per statement: PostgreSQL takes at most 65,535 parameters in one. */
const MAX_ROWS = Math.floor(65_535 / ROW_PARAMS);
const values = (r: ToolCallRecord) => [r.at, r.personId, r.login, r.clientId, r.clientName, r.sessionId, r.tool, r.repository, r.argsSha256, r.outcome, r.reason, r.durationMs, r.resultBytes, storedServer(r.server)];
const placeholders = (rows: number) =>
  Array.from({ length: rows }, (_, i) => `(${Array.from({ length: ROW_PARAMS }, (_, j) => `$${i * ROW_PARAMS + j + 1}`).join(', ')})`).join(', ');

export function createPgToolCallStore(pool: PgPool): ToolCallStore {
  return {
    async insert(r) {
      await pool.query(INSERT + placeholders(1), values(r));
    },
    async insertMany(rs) {
      // One multi-row INSERT per MAX_ROWS records: one round trip and one commit each.
      for (let i = 0; i < rs.length; i += MAX_ROWS) {
        const chunk = rs.slice(i, i + MAX_ROWS);
        await pool.query(INSERT + placeholders(chunk.length), chunk.flatMap(values));
      }
    },
    async lastByClient(personId) {
      return (await pool.query<{ clientId: string; at: number; tool: string }>(
        `SELECT DISTINCT ON (client_id) client_id AS "clientId", at, tool FROM tool_calls
         WHERE person_id = $1 AND client_id IS NOT NULL ORDER BY client_id, at DESC`,
        [personId],
      )).rows.map((r) => ({ ...r, at: Number(r.at) }));
    },
    async query(q = {}) {
      const where: string[] = [];
      const args: (string | number)[] = [];
      const p = (v: string | number) => (args.push(v), `$${args.length}`);
      if (q.since !== undefined) where.push(`at >= ${p(q.since)}`);
      if (q.until !== undefined) where.push(`at < ${p(q.until)}`);
      if (q.person !== undefined) where.push(`(person_id = ${p(q.person)} OR lower(login) = lower(${p(q.person)}))`);
      if (q.tool !== undefined) where.push(`tool = ${p(q.tool)}`);
      if (q.outcome !== undefined) where.push(`outcome = ${p(q.outcome)}`);
      if (q.server !== undefined) {
        const stored = storedServer(q.server);
        where.push(stored === null ? 'server IS NULL' : `server = ${p(stored)}`);
      }
      const sql = `SELECT ${COLS} FROM tool_calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ${p(q.limit ?? 1000)}`;
      const rows = (await pool.query<ToolCallRecord & { server: string | null }>(sql, args)).rows;
      return rows.map(({ server, ...r }) => (server !== null ? { ...r, server } : r));
    },
    async reap(before) {
      return changed(await pool.query('DELETE FROM tool_calls WHERE at < $1', [before]));
    },
  };
}
