/**
 * A session that outlives the forge's access token: the test-bed Gitea issues access tokens for
 * 30 s, so within a minute the broker must refresh the person's forge token twice and swap their
 * child to the new token (neither gitea-mcp nor forgejo-mcp re-reads its token), while one MCP
 * client keeps one session and notices nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestbed, type Testbed } from '../support/testbed.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { headlessDriver, signedInClient, toolText, type SignedInClient } from '../support/mcp-sign-in.js';

const FORGE_TOKEN_TTL_S = 30;
let tb: Testbed & { stop(): Promise<void> };
let broker: TestBroker;
let alice: SignedInClient;

beforeAll(async () => {
  tb = await startTestbed({ accessTokenTtlS: FORGE_TOKEN_TTL_S });
  broker = await startBroker({ testbed: tb });
  alice = await signedInClient(broker.mcpUrl, 'alice', headlessDriver(tb, broker.url));
}, 120_000);
afterAll(async () => {
  await alice?.close().catch(() => {});
  await broker?.stop();
  await tb?.stop();
});

const auditEvents = (event: string) =>
  broker.logLines.map((l) => JSON.parse(l) as { audit?: boolean; event?: string; pid?: number }).filter((l) => l.audit && l.event === event);

describe('forge token refresh under a live MCP session', () => {
  it('keeps answering as alice across two forge refreshes, on one session, with the child swapped to each new token', async () => {
    const sessionId = alice.transport.sessionId;
    const deadline = Date.now() + (FORGE_TOKEN_TTL_S * 2 + 10) * 1000;
    let calls = 0;
    while (Date.now() < deadline && auditEvents('forge.refreshed').length < 2) {
      const r = await alice.client.callTool({ name: 'user__get_my_userinfo', arguments: {} });
      expect(r.isError ?? false, toolText(r)).toBe(false);
      expect(JSON.parse(toolText(r))).toMatchObject({ login: 'alice' });
      calls++;
      await new Promise((res) => setTimeout(res, 2_000));
    }
    // One more call after the second refresh, served by the newest child.
    const last = await alice.client.callTool({ name: 'repo__list_my', arguments: {} });
    expect(toolText(last)).toContain('alice/alice-private');

    expect(auditEvents('forge.refreshed').length).toBeGreaterThanOrEqual(2);
    const started = auditEvents('child.started');
    expect(started.length).toBeGreaterThanOrEqual(3); // the first child and one per refreshed token
    expect(new Set(started.map((e) => e.pid)).size).toBe(started.length);
    expect(alice.transport.sessionId).toBe(sessionId);
    // The replaced child is stopped once its calls are done; its exit is counted a moment later.
    for (let i = 0; i < 50 && broker.running.ctx.relay.stats().children !== 1; i++) await new Promise((res) => setTimeout(res, 100));
    expect(broker.running.ctx.relay.stats().children).toBe(1);
    expect(calls).toBeGreaterThan(10);
    // The operator listener counts the refreshes by outcome.
    const metrics = await (await fetch(`${broker.opsUrl}/metrics`)).text();
    const ok = Number(/fjmcp_forge_refreshes_total\{outcome="ok"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(ok).toBe(auditEvents('forge.refreshed').length);
  }, 120_000);
});
