/**
 * The tool-call audit table (store.toolCalls), on both engines: records keep every field (no
 * argument values exist to keep), `query` filters by time, person (id or login, any case), tool
 * and outcome, newest first, and `reap` deletes what is past retention only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import type { ToolCallRecord } from '../../src/store/tool-calls.js';
import { ENGINES } from '../support/stores.js';

const T0 = 1_800_000_000_000;
const rec = (at: number, over: Partial<ToolCallRecord> = {}): ToolCallRecord => ({
  at, personId: '7', login: 'Alice', clientId: 'c1', clientName: 'Claude', sessionId: 's1', tool: 'issue__list',
  repository: 'team/x', argsSha256: 'a'.repeat(64), outcome: 'ok', reason: null, durationMs: 12.5, resultBytes: 2048, ...over,
});
const opened: Store[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

describe.each(ENGINES)('tool_calls on $name', (engine) => {
  it('stores records and queries them newest first with filters', async () => {
    const s = await engine.open();
    opened.push(s);
    await s.toolCalls.insert(rec(T0));
    await s.toolCalls.insert(rec(T0 + 1000, { tool: 'issue__create', outcome: 'refused', reason: 'read-only', repository: null }));
    await s.toolCalls.insert(rec(T0 + 2000, { personId: '8', login: 'bob' }));
    expect(await s.toolCalls.query()).toEqual([rec(T0 + 2000, { personId: '8', login: 'bob' }), rec(T0 + 1000, { tool: 'issue__create', outcome: 'refused', reason: 'read-only', repository: null }), rec(T0)]);
    expect((await s.toolCalls.query({ person: 'alice' })).map((r) => r.at)).toEqual([T0 + 1000, T0]);
    expect((await s.toolCalls.query({ person: '8' })).map((r) => r.at)).toEqual([T0 + 2000]);
    expect((await s.toolCalls.query({ outcome: 'refused' })).map((r) => r.tool)).toEqual(['issue__create']);
    expect((await s.toolCalls.query({ since: T0 + 1000, until: T0 + 2000 })).map((r) => r.at)).toEqual([T0 + 1000]);
    expect((await s.toolCalls.query({ tool: 'issue__list', limit: 1 })).map((r) => r.at)).toEqual([T0 + 2000]);
  });

  it('gives the newest call of a person per client (the account page\'s last tool call)', async () => {
    const s = await engine.open();
    opened.push(s);
    await s.toolCalls.insert(rec(T0, { tool: 'old' }));
    await s.toolCalls.insert(rec(T0 + 2000, { tool: 'newest' }));
    await s.toolCalls.insert(rec(T0 + 1000, { tool: 'middle' }));
    await s.toolCalls.insert(rec(T0 + 3000, { tool: 'other-client', clientId: 'c2' }));
    await s.toolCalls.insert(rec(T0 + 4000, { tool: 'bob', personId: '8', login: 'bob' }));
    const last = await s.toolCalls.lastByClient('7');
    expect(last.sort((a, b) => a.at - b.at)).toEqual([
      { clientId: 'c1', at: T0 + 2000, tool: 'newest' },
      { clientId: 'c2', at: T0 + 3000, tool: 'other-client' },
    ]);
  });

  it('insertMany (the audit\'s batch of one event-loop turn) stores every record with every field', async () => {
    const s = await engine.open();
    opened.push(s);
    const batch = Array.from({ length: 25 }, (_, i) => rec(T0 + i, { tool: `t${i}`, server: i % 2 ? 'wiki' : undefined, resultBytes: i }));
    await s.toolCalls.insertMany(batch);
    await s.toolCalls.insertMany([]);
    const stored = await s.toolCalls.query();
    expect(stored).toEqual(batch.reverse().map(({ server, ...r }) => (server ? { ...r, server } : r)));
  });

  it('reaps records older than the cut-off only', async () => {
    const s = await engine.open();
    opened.push(s);
    await s.toolCalls.insert(rec(T0));
    await s.toolCalls.insert(rec(T0 + 10));
    expect(await s.toolCalls.reap(T0 + 10)).toBe(1);
    expect((await s.toolCalls.query()).map((r) => r.at)).toEqual([T0 + 10]);
  });
});
