/**
 * Issue 15 "Done when", on real parts: one broker serves the real npm gitea-mcp at `/mcp` and
 * server-everything (the stand-in second server) at `/mcp/everything`, both from the policy
 * file's `servers` section. alice signs in once per connector with the official MCP SDK client
 * (discovery from each URL's own 401, RFC 9728 path-suffixed metadata); each connector's tools
 * answer as alice; a token of one is refused at the other (RFC 8707 audience); one authorization
 * may name both resources and its consent page names each; revoking alice stops both children;
 * the policy applies per server and the audit names the server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdmin } from '../../src/cli/admin.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { authorizeUrl, pkcePair, registerTestClient, signInThroughBroker, tokenRequest } from '../support/broker-consent.js';
import { HeadlessBrowser } from '../support/headless-browser.js';
import { headlessDriver, signedInClient, toolText, type SignedInClient } from '../support/mcp-sign-in.js';
import { sharedTestbed, type Testbed } from '../support/testbed.js';

const require = createRequire(import.meta.url);
const EVERYTHING_JS = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');

const POLICY = `servers:
  everything:                          # served at /mcp/everything
    title: Everything (stand-in)
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(EVERYTHING_JS)}, stdio]
    token_env: EVERYTHING_TOKEN
    url_env: EVERYTHING_FORGE_URL
rules:
  - servers: [default]
    people: { logins: [alice] }
    read_only: true
  - servers: [everything]
    people: { logins: [alice] }
    tools: { deny: [echo] }
`;

let tb: Testbed;
let dir: string;
let broker: TestBroker;
let everythingUrl: string;
let atMcp: SignedInClient;
let atEverything: SignedInClient;

beforeAll(async () => {
  tb = sharedTestbed();
  dir = mkdtempSync(join(tmpdir(), 'fjmcp-servers-e2e-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  broker = await startBroker({ testbed: tb, env: { FJMCP_POLICY_FILE: join(dir, 'policy.yaml') } });
  everythingUrl = `${broker.url}/mcp/everything`;
  const drive = headlessDriver(tb, broker.url);
  atMcp = await signedInClient(broker.mcpUrl, 'alice', drive);
  atEverything = await signedInClient(everythingUrl, 'alice', drive);
}, 120_000);
afterAll(async () => {
  for (const c of [atMcp, atEverything]) await c?.close().catch(() => {});
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const names = async (c: SignedInClient) => (await c.client.listTools()).tools.map((t) => t.name);
const bearer = (c: SignedInClient) => c.provider.tokens()!.access_token;
const initialize = (url: string, token: string) =>
  fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '0' } } }),
  });
async function personId(login: string): Promise<string> {
  const p = await broker.running.ctx.store.control.findPerson(login);
  if (!p) throw new Error(`no person ${login}`);
  return p.personId;
}

describe('two MCP servers behind one broker (issue 15)', () => {
  it('each server is its own protected resource with path-suffixed metadata (RFC 9728 §3.1)', async () => {
    const md = (path: string) => fetch(`${broker.url}/.well-known/oauth-protected-resource${path}`).then((r) => r.json() as Promise<Record<string, unknown>>);
    expect(await md('/mcp')).toMatchObject({ resource: broker.mcpUrl, authorization_servers: [broker.url] });
    expect(await md('/mcp/everything')).toMatchObject({ resource: everythingUrl, authorization_servers: [broker.url], resource_name: 'Everything (stand-in) (fjmcp-broker)' });
    const challenge = await initialize(everythingUrl, 'mcpb_at_nothing');
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toContain(`resource_metadata="${broker.url}/.well-known/oauth-protected-resource/mcp/everything"`);
  });

  it('each connector\'s tools answer as alice, and each URL shows only its own server\'s tools', async () => {
    const mine = toolText(await atMcp.client.callTool({ name: 'user__get_my_userinfo', arguments: {} }));
    expect(mine).toMatch(/"login":\s*"alice"/);

    const env = JSON.parse(toolText(await atEverything.client.callTool({ name: 'get-env', arguments: {} }))) as Record<string, string>;
    expect(env.EVERYTHING_FORGE_URL).toBe(tb.giteaUrl.replace(/\/+$/, ''));
    // The child holds alice's own forge token: the forge says whose it is.
    const who = await fetch(`${tb.giteaUrl}/api/v1/user`, { headers: { authorization: `token ${env.EVERYTHING_TOKEN}` } }).then((r) => r.json() as Promise<{ login: string }>);
    expect(who.login).toBe('alice');
    expect(Object.keys(env).filter((k) => k.startsWith('FJMCP_'))).toEqual([]);

    const atDefault = await names(atMcp);
    const atOther = await names(atEverything);
    expect(atDefault).toContain('issue__list');
    expect(atDefault).not.toContain('get-env');
    expect(atOther).toContain('get-env');
    expect(atOther.some((n) => n.includes('__'))).toBe(false);
  });

  it('one child per person per server: alice has a child at each server', async () => {
    const alice = await personId('alice');
    expect(broker.running.ctx.relay.of('default')!.childrenOf()).toContain(alice);
    expect(broker.running.ctx.relay.of('everything')!.childrenOf()).toContain(alice);
  });

  it('a token for one connector is refused at the other, both ways (RFC 8707 audience)', async () => {
    for (const [token, url, own] of [[bearer(atMcp), everythingUrl, broker.mcpUrl], [bearer(atEverything), broker.mcpUrl, everythingUrl]] as const) {
      const refused = await initialize(url, token);
      expect(refused.status).toBe(401);
      const www = refused.headers.get('www-authenticate') ?? '';
      expect(www).toContain('error="invalid_token"');
      expect(www).toContain('issued for another resource');
      expect(www).toContain(`resource_metadata="${broker.url}/.well-known/oauth-protected-resource${new URL(url).pathname}"`);
      const accepted = await initialize(own, token);
      expect(accepted.status).toBe(200);
      await accepted.body?.cancel();
    }
  });

  it('the policy applies per server: read_only only at /mcp, the deny only at /mcp/everything', async () => {
    expect(await names(atMcp)).not.toContain('issue__create');
    const refusedHere = await atMcp.client.callTool({ name: 'issue__create', arguments: { owner: 'alice', repo: 'alice-private', title: 'no' } });
    expect(refusedHere.isError).toBe(true);
    // A tool without readOnlyHint still works at the other server: the read_only rule is not there.
    const toggled = await atEverything.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    expect(toggled.isError ?? false, toolText(toggled)).toBe(false);
    expect(await names(atEverything)).not.toContain('echo');
    const echo = await atEverything.client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    expect(echo.isError).toBe(true);
    expect(toolText(echo)).toContain('Refused by the broker');
  });

  it('the audit names the server of every call (store, log, admin audit)', async () => {
    await broker.running.ctx.toolAudit.flush();
    const other = await broker.running.ctx.store.toolCalls.query({ server: 'everything' });
    expect(other.map((r) => [r.tool, r.outcome, r.server]).sort()).toEqual([
      ['echo', 'refused', 'everything'], ['get-env', 'ok', 'everything'], ['toggle-simulated-logging', 'ok', 'everything'],
    ]);
    const first = await broker.running.ctx.store.toolCalls.query({ server: 'default' });
    expect(first.map((r) => [r.tool, r.outcome]).sort()).toEqual([['issue__create', 'refused'], ['user__get_my_userinfo', 'ok']]);
    expect(first.every((r) => r.server === undefined && r.login === 'alice')).toBe(true);
    const lines = broker.logLines.filter((l) => l.includes('"event":"tool.call"'));
    expect(lines.some((l) => l.includes('"tool":"get-env"') && l.includes('"server":"everything"'))).toBe(true);
    expect(lines.some((l) => l.includes('"tool":"user__get_my_userinfo"') && l.includes('"server":"default"'))).toBe(true);
    expect(broker.logLines.some((l) => l.includes('"event":"child.started"') && l.includes('"server":"everything"'))).toBe(true);
    let out = '';
    expect(await runAdmin(['audit', '--server', 'everything'], broker.env, { stdout: { write: (x: string) => (out += x) }, stderr: { write: (x: string) => (out += x) } })).toBe(0);
    const listed = out.trim().split('\n').map((l) => JSON.parse(l) as { tool: string; server: string });
    expect(listed.map((r) => [r.tool, r.server]).sort()).toEqual([['echo', 'everything'], ['get-env', 'everything'], ['toggle-simulated-logging', 'everything']]);
    // The tool result (alice's forge token, printed by get-env) is never logged.
    const env = JSON.parse(toolText(await atEverything.client.callTool({ name: 'get-env', arguments: {} }))) as Record<string, string>;
    expect(broker.logLines.join('\n')).not.toContain(env.EVERYTHING_TOKEN);
  });

  it('one authorization naming both resources: the consent page names each; each token has one audience', async () => {
    const client = await registerTestClient(broker.url, ['http://127.0.0.1:53997/cb']);
    const { verifier, challenge } = pkcePair();
    const url = new URL(authorizeUrl(broker.url, client, challenge));
    url.searchParams.append('resource', everythingUrl);
    const page = await new HeadlessBrowser().request(url.href);
    expect(page.status).toBe(200);
    expect(page.body).toContain('For these 2 MCP servers');
    expect(page.body).toContain(broker.mcpUrl);
    expect(page.body).toContain(everythingUrl);
    expect(page.body).toContain('Everything (stand-in)');

    const r = await signInThroughBroker(tb, broker.url, url.href, 'bob');
    const code = r.location.searchParams.get('code')!;
    const t = await tokenRequest(broker.url, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.clientId, redirect_uri: client.redirectUri, resource: everythingUrl });
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    const forEverything = t.body.access_token as string;
    expect((await initialize(broker.mcpUrl, forEverything)).status).toBe(401);
    const ok = await initialize(everythingUrl, forEverything);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    // A refresh may name the other resource of the same authorization, and no third one.
    const again = await tokenRequest(broker.url, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token as string, client_id: client.clientId, resource: broker.mcpUrl });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const forMcp = again.body.access_token as string;
    expect((await initialize(everythingUrl, forMcp)).status).toBe(401);
    const ok2 = await initialize(broker.mcpUrl, forMcp);
    expect(ok2.status).toBe(200);
    await ok2.body?.cancel();
    const third = await tokenRequest(broker.url, { grant_type: 'refresh_token', refresh_token: again.body.refresh_token as string, client_id: client.clientId, resource: `${broker.url}/mcp/nothing` });
    expect(third).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
  });

  it('revoking alice stops both of her children and refuses both tokens', async () => {
    const alice = await personId('alice');
    let out = '';
    const code = await runAdmin(['revoke', '--person', 'alice'], broker.env, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } });
    expect(code, out).toBe(0);
    const relay = broker.running.ctx.relay;
    await expect.poll(() => relay.of('default')!.childrenOf().includes(alice) || relay.of('everything')!.childrenOf().includes(alice), { timeout: 10_000 }).toBe(false);
    for (const [c, url] of [[atMcp, broker.mcpUrl], [atEverything, everythingUrl]] as const) expect((await initialize(url, bearer(c))).status).toBe(401);
    // Each child's stop is audited when its process has exited, the second server's with its name.
    const stopped = () => broker.logLines.filter((l) => l.includes('"event":"child.stopped"') && l.includes(`"personId":"${alice}"`));
    await expect.poll(() => stopped().some((l) => l.includes('"server":"everything"')), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => stopped().some((l) => !l.includes('"server"')), { timeout: 10_000 }).toBe(true);
  });
});
