/**
 * The broker's one moment, end to end on real parts: a person adds the MCP URL to an MCP client
 * (the official SDK), signs in with their forge account (broker consent, Gitea login and
 * approval), and the client lists and calls gitea-mcp's tools as that person.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedTestbed, type Testbed } from '../support/testbed.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { headlessDriver, signedInClient, toolText, type SignedInClient } from '../support/mcp-sign-in.js';

let tb: Testbed;
let broker: TestBroker;
const clients: SignedInClient[] = [];

beforeAll(async () => {
  tb = sharedTestbed();
  broker = await startBroker({ testbed: tb });
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await broker?.stop();
});

async function whoAmI(c: SignedInClient): Promise<{ login: string }> {
  const r = await c.client.callTool({ name: 'user__get_my_userinfo', arguments: {} });
  expect(r.isError ?? false, toolText(r)).toBe(false);
  return JSON.parse(toolText(r)) as { login: string };
}
async function myRepos(c: SignedInClient): Promise<string> {
  const r = await c.client.callTool({ name: 'repo__list_my', arguments: {} });
  expect(r.isError ?? false, toolText(r)).toBe(false);
  return toolText(r);
}

describe('a person signs in from an MCP client and uses the forge as themselves', () => {
  it('alice and bob sign in in parallel; each sees their own private repository and never the other one', async () => {
    const drive = headlessDriver(tb, broker.url);
    const [alice, bob] = await Promise.all([signedInClient(broker.mcpUrl, 'alice', drive), signedInClient(broker.mcpUrl, 'bob', drive)]);
    clients.push(alice, bob);

    const tools = (await alice.client.listTools()).tools.map((t) => t.name);
    expect(tools).toContain('user__get_my_userinfo');
    expect(tools).toContain('repo__list_my');

    const [aliceMe, bobMe] = await Promise.all([whoAmI(alice), whoAmI(bob)]);
    expect(aliceMe.login).toBe('alice');
    expect(bobMe.login).toBe('bob');

    const [aliceRepos, bobRepos] = await Promise.all([myRepos(alice), myRepos(bob)]);
    expect(aliceRepos).toContain('alice/alice-private');
    expect(aliceRepos).not.toContain('bob-private');
    expect(bobRepos).toContain('bob/bob-private');
    expect(bobRepos).not.toContain('alice-private');
  });

  it('runs exactly one child per person, however many calls and sessions they make', async () => {
    const [alice] = clients;
    for (let i = 0; i < 5; i++) await whoAmI(alice!);
    expect(broker.running.ctx.relay.stats().children).toBe(2);
  });

  it('keeps the forge tokens and the broker tokens out of the log (secrets never logged)', () => {
    const log = broker.logLines.join('\n');
    for (const c of clients) {
      const t = c.provider.tokens()!;
      expect(log).not.toContain(t.access_token);
      expect(log).not.toContain(t.refresh_token!);
    }
    expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./); // Gitea's JWT access tokens
  });

  it('serves / naming the MCP URL, and a public /healthz that says only whether the broker is healthy', async () => {
    const info = (await (await fetch(`${broker.url}/`)).json()) as { mcp_url: string; version: string };
    expect(info.mcp_url).toBe(broker.mcpUrl);
    const h = await fetch(`${broker.url}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${broker.url}/metrics`)).status).toBe(404);
  });

  it('serves /metrics and the detailed /healthz on the operator listener only (FJMCP_OPS_LISTEN)', async () => {
    expect(broker.opsUrl).not.toBe(broker.url);
    const h = await fetch(`${broker.opsUrl}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: 'ok', store: { ok: true }, forge: { ok: true }, forgeCredentials: { ok: true }, policy: { file: null, rules: 0 } });
    const m = await fetch(`${broker.opsUrl}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toContain('text/plain');
    expect(await m.text()).toContain('# TYPE fjmcp_relay_sessions gauge');
    expect((await fetch(`${broker.opsUrl}/mcp`)).status).toBe(404);
  });
});
