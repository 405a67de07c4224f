/**
 * Issue 11, forge scopes as the second line: with FJMCP_FORGE_SCOPES set to read-only scopes, the
 * test-bed Gitea (>= 1.23 restricts OAuth tokens to the requested scopes) refuses a writing tool
 * with 403 through the broker, while reading tools work. No tool policy is set, so the refusal
 * comes from the forge, not the broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedTestbed, type Testbed } from '../support/testbed.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { headlessDriver, signedInClient, toolText, type SignedInClient } from '../support/mcp-sign-in.js';

/** The read-only scope string docs/policy.md tells operators to pin. */
const READ_ONLY_SCOPES = 'read:repository read:issue read:user';

let tb: Testbed;
let broker: TestBroker;
let carol: SignedInClient;

beforeAll(async () => {
  tb = sharedTestbed();
  broker = await startBroker({ testbed: tb, env: { FJMCP_FORGE_SCOPES: READ_ONLY_SCOPES } });
  carol = await signedInClient(broker.mcpUrl, 'carol', headlessDriver(tb, broker.url));
});
afterAll(async () => {
  await carol?.close().catch(() => {});
  await broker?.stop();
});

describe('read-only forge scopes (FJMCP_FORGE_SCOPES) on the test-bed Gitea', () => {
  it('reading tools work: carol lists the issues of her private repository', async () => {
    const r = await carol.client.callTool({ name: 'issue__list', arguments: { owner: 'carol', repo: 'carol-private', state: 'all' } });
    expect(r.isError ?? false, toolText(r)).toBe(false);
  });

  it('a writing tool fails at the forge with 403, and nothing is written', async () => {
    const title = `scoped-write-${Date.now()}`;
    const r = await carol.client.callTool({ name: 'issue__create', arguments: { owner: 'carol', repo: 'carol-private', title } });
    expect(r.isError, toolText(r)).toBe(true);
    // Gitea's scope check (routers/api/v1/api.go, tokenRequiresScopes), relayed by the child.
    expect(toolText(r)).toContain('token does not have at least one of required scope(s), required=[write:issue]');
    expect(toolText(r)).not.toContain('Refused by the broker'); // the forge refused, not the policy
    const after = await carol.client.callTool({ name: 'issue__list', arguments: { owner: 'carol', repo: 'carol-private', state: 'all' } });
    expect(toolText(after)).not.toContain(title);
    await broker.running.ctx.toolAudit.flush();
    const rows = await broker.running.ctx.store.toolCalls.query({});
    const row = rows.find((x) => x.tool === 'issue__create');
    expect(row).toMatchObject({ login: 'carol', outcome: 'tool_error' });

    // The very token the child holds: the forge answers the same write with HTTP 403, a read with 200.
    const { accessToken } = await broker.running.ctx.forgeTokens.current(row!.personId);
    const api = `${tb.giteaUrl}/api/v1/repos/carol/carol-private/issues`;
    const headers = { authorization: `token ${accessToken}`, 'content-type': 'application/json' };
    const write = await fetch(api, { method: 'POST', headers, body: JSON.stringify({ title }) });
    expect(write.status).toBe(403);
    expect((await fetch(api, { headers })).status).toBe(200);
  });
});
