/**
 * @module store/tool-calls
 * The only SQL for `tool_calls` (migration 004): the tool-call audit. Append, query by time,
 * person, tool and outcome (for `fjmcp-broker admin audit`), and delete what is past retention.
 * Times in ms since the epoch.
 */
import type { Db } from './db.js';

/** How one call ended (docs/operations.md §Tool-call audit). */
export type ToolCallOutcome = 'ok' | 'tool_error' | 'rpc_error' | 'refused' | 'rate_limited' | 'timed_out' | 'cancelled';

/** One audited call. Never holds argument values: only their digest. */
export interface ToolCallRecord {
  /** When the call arrived, ms since the epoch. */
  at: number;
  personId: string;
  login: string;
  /** The broker-side OAuth client id of the access token. */
  clientId: string | null;
  /** `clientInfo.name` the client gave in `initialize` (a claim, not verified). */
  clientName: string | null;
  /** The MCP session (`Mcp-Session-Id`). */
  sessionId: string | null;
  tool: string;
  /** `owner/repo` when the broker could tell from the arguments. */
  repository: string | null;
  /** Hex SHA-256 of the canonical JSON of the arguments (lib/canonical-json). */
  argsSha256: string;
  outcome: ToolCallOutcome;
  /** Why, for refusals: the policy's reason code or `rate-limit`. */
  reason: string | null;
  durationMs: number;
  /** Bytes of the JSON result (or error) sent back to the client. */
  resultBytes: number;
  /**
   * The MCP server the call went to: its name in the policy file's `servers` (served at
   * `/mcp/<name>`). Absent, or `default`, for the server at `/mcp` (stored as NULL).
   */
  server?: string;
}

/** Filter of {@link ToolCallStore.query}; every field optional, all given ones must hold. */
export interface ToolCallQuery {
  /** Inclusive lower bound of `at`, ms. */
  since?: number;
  /** Exclusive upper bound of `at`, ms. */
  until?: number;
  /** Forge login (case-insensitive) or person id. */
  person?: string;
  tool?: string;
  outcome?: ToolCallOutcome;
  /** Server name; `default` selects the server at `/mcp`. */
  server?: string;
  /** Most rows returned, newest first; default 1000. */
  limit?: number;
}

export interface ToolCallStore {
  insert(r: ToolCallRecord): Promise<void>;
  /** Appends every record of `rs` with one commit (SQLite: one transaction; PostgreSQL: one statement per 4,681 rows). */
  insertMany(rs: readonly ToolCallRecord[]): Promise<void>;
  /** Matching records, newest first. */
  query(q?: ToolCallQuery): Promise<ToolCallRecord[]>;
  /** Deletes records with `at` before `before`; @returns how many. */
  reap(before: number): Promise<number>;
  /** The newest call of the person per broker-side client id (the account page). */
  lastByClient(personId: string): Promise<{ clientId: string; at: number; tool: string }[]>;
}

interface RawRow {
  at: number;
  person_id: string;
  login: string;
  client_id: string | null;
  client_name: string | null;
  session_id: string | null;
  tool: string;
  repository: string | null;
  args_sha256: string;
  outcome: ToolCallOutcome;
  reason: string | null;
  duration_ms: number;
  result_bytes: number;
  server: string | null;
}

/** The stored form of {@link ToolCallRecord.server}: NULL for the server at `/mcp`. */
export const storedServer = (server: string | undefined): string | null => (server === undefined || server === 'default' ? null : server);

export function createToolCallStore(db: Db): ToolCallStore {
  const ins = db.prepare(
    `INSERT INTO tool_calls (at, person_id, login, client_id, client_name, session_id, tool, repository, args_sha256, outcome, reason, duration_ms, result_bytes, server)
     VALUES (@at, @personId, @login, @clientId, @clientName, @sessionId, @tool, @repository, @argsSha256, @outcome, @reason, @durationMs, @resultBytes, @server)`,
  );
  const del = db.prepare<[number]>('DELETE FROM tool_calls WHERE at < ?');
  // One commit (one WAL append) for a batch instead of one per row.
  const many = db.transaction((rs: readonly ToolCallRecord[]) => {
    for (const r of rs) ins.run({ ...r, server: storedServer(r.server) });
  });
  return {
    async insert(r) {
      ins.run({ ...r, server: storedServer(r.server) });
    },
    async insertMany(rs) {
      if (rs.length) many(rs);
    },
    async lastByClient(personId) {
      // SQLite takes the bare column `tool` from the row where max(at) is found.
      return db.prepare('SELECT client_id AS clientId, max(at) AS at, tool FROM tool_calls WHERE person_id = ? AND client_id IS NOT NULL GROUP BY client_id')
        .all(personId) as { clientId: string; at: number; tool: string }[];
    },
    async query(q = {}) {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.since !== undefined) (where.push('at >= ?'), args.push(q.since));
      if (q.until !== undefined) (where.push('at < ?'), args.push(q.until));
      if (q.person !== undefined) (where.push('(person_id = ? OR lower(login) = lower(?))'), args.push(q.person, q.person));
      if (q.tool !== undefined) (where.push('tool = ?'), args.push(q.tool));
      if (q.outcome !== undefined) (where.push('outcome = ?'), args.push(q.outcome));
      if (q.server !== undefined) {
        const stored = storedServer(q.server);
        if (stored === null) where.push('server IS NULL');
        else (where.push('server = ?'), args.push(stored));
      }
      const sql = `SELECT * FROM tool_calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ?`;
      const rows = db.prepare(sql).all(...args, q.limit ?? 1000) as RawRow[];
      return rows.map((r) => ({
        at: r.at,
        personId: r.person_id,
        login: r.login,
        clientId: r.client_id,
        clientName: r.client_name,
        sessionId: r.session_id,
        tool: r.tool,
        repository: r.repository,
        argsSha256: r.args_sha256,
        outcome: r.outcome,
        reason: r.reason,
        durationMs: r.duration_ms,
        resultBytes: r.result_bytes,
        ...(r.server !== null ? { server: r.server } : {}),
      }));
    },
    async reap(before) {
      return del.run(before).changes;
    },
  };
}
