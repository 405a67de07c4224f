/**
 * Issue 11 "Done when", on real parts: the npm gitea-mcp child on the test-bed Gitea, MCP SDK
 * clients signed in through the broker, the policy file of the issue (docs/policy.md). alice is
 * read-only, bob is limited to `team/*`, carol is in no rule; the tool-call audit lands in the
 * store without argument values; a bad reload keeps the old policy; the person rate limit trips
 * with 429 and recovers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { sharedTestbed, type Testbed } from '../support/testbed.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { headlessDriver, signedInClient, toolText, type SignedInClient } from '../support/mcp-sign-in.js';

const ISSUE_POLICY = `rules:                       # every rule whose \`people\` match applies; deny wins
  - people: { logins: [alice] }
    read_only: true
  - people: { logins: [bob] }
    repositories: ["team/*"]
  - people: { orgs: [team] }
    tools: { deny: ["delete_*"] }
`;

let tb: Testbed;
let dir: string;
let policyFile: string;
let broker: TestBroker;
let alice: SignedInClient;
let bob: SignedInClient;
let carol: SignedInClient;

beforeAll(async () => {
  tb = sharedTestbed();
  dir = mkdtempSync(join(tmpdir(), 'fjmcp-policy-e2e-'));
  policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, ISSUE_POLICY);
  broker = await startBroker({ testbed: tb, env: { FJMCP_POLICY_FILE: policyFile } });
  const drive = headlessDriver(tb, broker.url);
  [alice, bob, carol] = await Promise.all([signedInClient(broker.mcpUrl, 'alice', drive), signedInClient(broker.mcpUrl, 'bob', drive), signedInClient(broker.mcpUrl, 'carol', drive)]);
});
afterAll(async () => {
  for (const c of [alice, bob, carol]) await c?.close().catch(() => {});
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const names = async (c: SignedInClient) => (await c.client.listTools()).tools.map((t) => t.name);
const audit = async () => {
  await broker.running.ctx.toolAudit.flush();
  return broker.running.ctx.store.toolCalls.query({});
};

describe('tool policy with the real gitea-mcp child (issue 11)', () => {
  it('read_only: alice does not see issue__create in tools/list, and calling it is refused at the broker', async () => {
    const tools = await names(alice);
    expect(tools).toContain('issue__list');
    expect(tools).not.toContain('issue__create');
    const r = await alice.client.callTool({ name: 'issue__create', arguments: { owner: 'alice', repo: 'alice-private', title: 'should not exist' } });
    expect(r.isError).toBe(true);
    expect(toolText(r)).toBe('Refused by the broker: this broker allows you read-only access; `issue__create` is not allowed.');
    const issues = await alice.client.callTool({ name: 'issue__list', arguments: { owner: 'alice', repo: 'alice-private', state: 'all' } });
    expect(toolText(issues)).not.toContain('should not exist');
  });

  it('repositories: bob, limited to team/*, cannot read his own private repository through a tool, but can read team/team-private', async () => {
    const own = await bob.client.callTool({ name: 'issue__list', arguments: { owner: 'bob', repo: 'bob-private' } });
    expect(own.isError).toBe(true);
    expect(toolText(own)).toContain('`bob/bob-private` is not allowed');
    const team = await bob.client.callTool({ name: 'issue__list', arguments: { owner: 'team', repo: 'team-private' } });
    expect(team.isError ?? false, toolText(team)).toBe(false);
    expect(await names(bob)).not.toContain('repo__list_my'); // spans repositories: hidden under a repository rule
  });

  it('carol, in no rule, can read her own private repository and sees every tool', async () => {
    const r = await carol.client.callTool({ name: 'issue__list', arguments: { owner: 'carol', repo: 'carol-private' } });
    expect(r.isError ?? false, toolText(r)).toBe(false);
    expect(await names(carol)).toContain('issue__create');
  });

  it('the audit table holds one record per call with the right outcome and no argument values', async () => {
    const rows = await audit();
    const of = (login: string, tool: string) => rows.filter((r) => r.login === login && r.tool === tool);
    expect(of('alice', 'issue__create')).toMatchObject([{ outcome: 'refused', reason: 'read-only', repository: 'alice/alice-private' }]);
    expect(of('alice', 'issue__list')).toMatchObject([{ outcome: 'ok', repository: 'alice/alice-private' }]);
    expect(of('bob', 'issue__list').map((r) => [r.repository, r.outcome]).sort()).toEqual([['bob/bob-private', 'refused'], ['team/team-private', 'ok']]);
    expect(of('carol', 'issue__list')).toMatchObject([{ outcome: 'ok', repository: 'carol/carol-private' }]);
    for (const r of rows) {
      expect(r.argsSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r.clientId).toMatch(/.+/);
      expect(r.clientName).toBe('fjmcp-e2e');
      expect(r.sessionId).toMatch(/.+/);
    }
    expect(JSON.stringify(rows)).not.toContain('should not exist');
    const log = broker.logLines.filter((l) => l.includes('"event":"tool.call"')).join('\n');
    expect(log).toContain('"tool":"issue__create"');
    expect(log).not.toContain('should not exist');
  });

  it('the metrics on the operator listener show the calls by tool and outcome, the policy refusals, children by state, sessions and forge refreshes', async () => {
    expect((await fetch(`${broker.url}/metrics`)).status).toBe(404); // never on the public listener
    const text = await (await fetch(`${broker.opsUrl}/metrics`)).text();
    expect(text).toMatch(/fjmcp_relay_children_by_state\{state="serving"\} [3-9]/); // alice, bob, carol
    expect(text).toMatch(/fjmcp_relay_children_by_state\{state="stopping"\} 0/);
    expect(text).toMatch(/fjmcp_relay_sessions [3-9]/);
    expect(text).toContain('# TYPE fjmcp_forge_refreshes_total counter');
    expect(text).toContain('# TYPE fjmcp_rate_limit_refusals_total counter');
    expect(text).toMatch(/fjmcp_tool_calls_total\{tool="issue__list",outcome="ok"\} [3-9]/);
    expect(text).toMatch(/fjmcp_tool_calls_total\{tool="issue__create",outcome="refused"\} 1/);
    expect(text).toMatch(/fjmcp_policy_refusals_total\{reason="read-only"\} 1/);
    expect(text).toMatch(/fjmcp_tool_call_duration_seconds_count\{outcome="ok"\} \d+/);
  });

  it('the broker log holds no child stdout content (the npm child prints user objects and emails)', async () => {
    // A repeated GET hits the child's HTTP cache, whose logger prints the cached user object (email
    // included, ANSI-coloured) to stdout.
    for (let i = 0; i < 2; i++) await carol.client.callTool({ name: 'user__get_my_userinfo', arguments: {} });
    await expect.poll(() => broker.logLines.some((l) => l.includes('wrote non-JSON lines to stdout')), { timeout: 10_000 }).toBe(true);
    const log = broker.logLines.join('\n');
    expect(log).not.toContain('@example.test'); // the test bed's users' email addresses
    expect(log).not.toContain('\\u001b['); // the child's coloured debug output
  });

  it('a bad policy reload is refused and the old policy stays; a good one is applied and announced with tools/list_changed', async () => {
    let changed = 0;
    carol.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    writeFileSync(policyFile, 'rules:\n  - people: { logins: [carol] }\n    read_only: maybe\n');
    expect(broker.running.ctx.policy.reload()).toBe(false);
    expect(broker.logLines.some((l) => l.includes('tool policy reload failed') && l.includes('rules[0].read_only'))).toBe(true);
    const detail = (await (await fetch(`${broker.opsUrl}/healthz`)).json()) as { policy: { rules: number; lastReloadError: { problems: string[] } | null } };
    expect(detail.policy.rules).toBe(3);
    expect(detail.policy.lastReloadError?.problems.join('\n')).toContain('rules[0].read_only');
    expect(await names(alice)).not.toContain('issue__create');
    expect(await names(carol)).toContain('issue__create');

    writeFileSync(policyFile, 'rules:\n  - people: { logins: [carol] }\n    read_only: true\n');
    expect(broker.running.ctx.policy.reload()).toBe(true);
    await expect.poll(() => changed, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await names(carol)).not.toContain('issue__create');
    expect(await names(alice)).toContain('issue__create');
    writeFileSync(policyFile, ISSUE_POLICY);
    expect(broker.running.ctx.policy.reload()).toBe(true);
  });
});

describe('per-person rate limit on /mcp (issue 11)', () => {
  let limited: TestBroker;
  let dora: SignedInClient;
  beforeAll(async () => {
    limited = await startBroker({ testbed: tb, env: { FJMCP_MCP_RATE_PER_MIN: '60', FJMCP_MCP_BURST: '4' } });
    dora = await signedInClient(limited.mcpUrl, 'carol', headlessDriver(tb, limited.url));
  });
  afterAll(async () => {
    await dora?.close().catch(() => {});
    await limited?.stop();
  });

  const post = (id: number) =>
    fetch(limited.mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${dora.provider.tokens()!.access_token}`,
        'mcp-session-id': dora.transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'user__get_my_userinfo', arguments: {} } }),
    }).then(async (r) => {
      await r.body?.cancel();
      return r;
    });

  it('trips with 429 and Retry-After beyond the burst, audits the refused call, and recovers', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const r = await post(100 + i);
      statuses.push(r.status);
      if (r.status === 429) retryAfter ??= r.headers.get('retry-after');
    }
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    await limited.running.ctx.toolAudit.flush();
    const rows = await limited.running.ctx.store.toolCalls.query({ outcome: 'rate_limited' });
    expect(rows.length).toBe(statuses.filter((s) => s === 429).length);
    expect(rows[0]).toMatchObject({ login: 'carol', tool: 'user__get_my_userinfo', reason: 'rate-limit' });
    const metrics = await (await fetch(`${limited.opsUrl}/metrics`)).text();
    expect(metrics).toContain(`fjmcp_rate_limit_refusals_total{endpoint="/mcp"} ${rows.length}`);
    expect(metrics).toContain(`fjmcp_tool_calls_total{tool="user__get_my_userinfo",outcome="rate_limited"} ${rows.length}`);
    await expect.poll(async () => (await post(200)).status, { timeout: 10_000, interval: 500 }).toBe(200);
  });
});
