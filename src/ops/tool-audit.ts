/**
 * @module ops/tool-audit
 * The tool-call audit: each record (store/tool-calls.ts shape) goes to the JSON log as an audit
 * line (`event: "tool.call"`), to the store's `tool_calls` table, and to the metrics. A store
 * failure is logged and never fails the call. Records older than the retention are deleted
 * hourly. Never holds argument values, only their digest.
 *
 * The log line and the metrics are written at once; the store rows are queued and written together,
 * one commit every {@link AUDIT_BATCH_MS} (sooner at {@link AUDIT_BATCH_MAX} rows), so the insert
 * is not on the path of the call's answer and calls share commits: one commit per call was the
 * largest cost of the broker's own code on a tool call (docs/relay.md §Real path). A crash can
 * lose the queued rows from the store, never from the log. {@link ToolAudit.flush} writes what is
 * queued at once (tests, shutdown).
 */
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { ToolCallRecord, ToolCallStore } from '../store/tool-calls.js';

/** How often records past retention are deleted, ms. */
export const AUDIT_REAP_INTERVAL_MS = 60 * 60_000;

/** Longest a record waits for its store row, ms. */
export const AUDIT_BATCH_MS = 100;
/** Rows queued that are written at once without waiting for {@link AUDIT_BATCH_MS}. */
export const AUDIT_BATCH_MAX = 256;

/** Distinct tool names labelled in the metrics; later ones count as `other`. */
export const MAX_TOOL_LABELS = 500;

export interface ToolAudit {
  record(r: ToolCallRecord): void;
  /** Deletes records past retention now. @returns how many. */
  reap(): Promise<number>;
  /** Resolves when every record handed over so far is written (tests, shutdown). */
  flush(): Promise<void>;
  stop(): void;
}

export function createToolAudit(deps: { log: Logger; metrics: Metrics; store: ToolCallStore; retentionDays: number; clock?: () => number }): ToolAudit {
  const now = deps.clock ?? Date.now;
  const auditLog = deps.log.child({ audit: true });
  const calls = deps.metrics.counter('fjmcp_tool_calls_total', 'MCP tools/call requests, by tool and outcome (ok, tool_error, rpc_error, refused, rate_limited, timed_out, cancelled)', ['tool', 'outcome']);
  const duration = deps.metrics.histogram('fjmcp_tool_call_duration_seconds', 'Time from a tools/call reaching the broker to its answer, seconds', ['outcome'], [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
  const refusals = deps.metrics.counter('fjmcp_policy_refusals_total', 'tools/call refused by the tool policy, by reason', ['reason']);
  let pending = new Set<Promise<void>>();
  /** Records handed over this turn, not yet given to the store. */
  let queued: ToolCallRecord[] = [];
  let scheduled: NodeJS.Timeout | undefined;
  const write = () => {
    if (scheduled) clearTimeout(scheduled);
    scheduled = undefined;
    if (queued.length === 0) return;
    const rows = queued;
    queued = [];
    const p: Promise<void> = deps.store.insertMany(rows).catch((err: Error) => {
      deps.log.error({ err: err.message, records: rows.length, tools: [...new Set(rows.map((r) => r.tool))].slice(0, 10) }, 'tool-call audit records could not be stored (they are in this log)');
    }).finally(() => pending.delete(p));
    pending.add(p);
  };
  // Tool names come from clients: a client inventing names must not grow the metrics without bound.
  const labels = new Set<string>();
  const toolLabel = (tool: string) => {
    if (labels.has(tool)) return tool;
    if (labels.size >= MAX_TOOL_LABELS || tool.length > 100) return 'other';
    labels.add(tool);
    return tool;
  };

  const reap = async () => {
    const n = await deps.store.reap(now() - deps.retentionDays * 86_400_000);
    if (n) deps.log.info({ deleted: n, retentionDays: deps.retentionDays }, 'tool-call audit records past retention deleted');
    return n;
  };
  const timer = setInterval(() => void reap().catch((err: Error) => deps.log.error({ err: err.message }, 'tool-call audit reaping failed')), AUDIT_REAP_INTERVAL_MS);
  timer.unref();

  return {
    record(r) {
      auditLog.info({ event: 'tool.call', ...r, at: new Date(r.at).toISOString() }, 'tool.call');
      calls.inc({ tool: toolLabel(r.tool), outcome: r.outcome });
      duration.observe({ outcome: r.outcome }, r.durationMs / 1000);
      if (r.outcome === 'refused') refusals.inc({ reason: r.reason ?? 'unknown' });
      queued.push(r);
      if (queued.length >= AUDIT_BATCH_MAX) write();
      else if (!scheduled) {
        scheduled = setTimeout(write, AUDIT_BATCH_MS);
        scheduled.unref(); // shutdown flushes; the timer must not keep the process alive
      }
    },
    reap,
    async flush() {
      write();
      const now = pending;
      pending = new Set(pending);
      await Promise.all(now);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
