/**
 * `fjmcp-broker admin` on the store of a running broker (the real composition root in front of
 * the test-bed Gitea, the real gitea-mcp child): what it lists, and that its revocations and
 * blocks reach the running broker within seconds — open SSE streams end, the next call gets 401,
 * the child stops — while everyone else carries on. Also check, rotate-keys and backup.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdmin } from '../../src/cli/admin.js';
import type { Env } from '../../src/config.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { registerTestClient, type ManualClient } from '../support/broker-consent.js';
import { rawSession, signInWithClient } from '../support/raw-mcp.js';
import { startTestbed, type Testbed } from '../support/testbed.js';

let tb: Testbed & { stop(): Promise<void> };
let broker: TestBroker;
let shared: ManualClient;
let other: ManualClient;
const tmp = mkdtempSync(join(tmpdir(), 'fjmcp-admin-test-'));

beforeAll(async () => {
  tb = await startTestbed();
  broker = await startBroker({ testbed: tb });
  shared = await registerTestClient(broker.url, ['http://127.0.0.1:53999/cb'], { client_name: 'Shared Assistant' });
  other = await registerTestClient(broker.url, ['http://127.0.0.1:53998/cb'], { client_name: 'Other Assistant' });
}, 120_000);
afterAll(async () => {
  await broker?.stop();
  await tb?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs `fjmcp-broker admin ...args` in-process against the broker's settings and store. */
async function admin(args: string[], env: Env = broker.env): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdmin(args, env, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

const within = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms));

/** A call that must reach the child: a tool listing (the child answers). */
async function works(s: Awaited<ReturnType<typeof rawSession>>): Promise<boolean> {
  const r = await s.call('tools/list');
  return r.status === 200 && r.text.includes('"tools"');
}

describe('fjmcp-broker admin', () => {
  it('lists people, clients, grants and the open sessions of the running broker', async () => {
    const alice = await signInWithClient(tb, broker.url, shared, 'alice');
    const s = await rawSession(broker.mcpUrl, alice.accessToken);
    expect(await works(s)).toBe(true);
    await broker.running.ctx.control.poll(); // writes the live snapshot now instead of within 5 s
    await new Promise((r) => setTimeout(r, 5_100));
    await broker.running.ctx.control.poll();

    const people = await admin(['people', '--json']);
    expect(people.code).toBe(0);
    const alicePerson = people.out.trim().split('\n').map((l) => JSON.parse(l)).find((p) => p.login === 'alice');
    expect(alicePerson).toMatchObject({ login: 'alice', clients: 1, grants: 1, child: 'running', forgeSignedIn: 'yes' });
    const clients = await admin(['clients']);
    expect(clients.out).toMatch(/Shared Assistant\s+no\s+127\.0\.0\.1:53999\s+1\s+1/);
    const grants = await admin(['grants', '--person', 'alice', '--json']);
    expect(grants.out.trim().split('\n').map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ login: 'alice', client: 'Shared Assistant', revoked: '', lastUsed: expect.stringMatching(/^20\d\d-/) })]);
    const sessions = await admin(['sessions', '--json']);
    expect(sessions.out).toContain('"login":"alice"');
    expect(sessions.out).toContain('"client":"Shared Assistant"');
    expect(sessions.out).not.toContain(s.sessionId); // shortened: a session id is not printed whole
  }, 60_000);

  it('admin revoke --client cuts that client for everyone within seconds (401, SSE stream ends) while another client keeps working', async () => {
    const alice = await signInWithClient(tb, broker.url, shared, 'alice');
    const carol = await signInWithClient(tb, broker.url, shared, 'carol');
    const aliceOther = await signInWithClient(tb, broker.url, other, 'alice');
    const [sa, sc, so] = await Promise.all([rawSession(broker.mcpUrl, alice.accessToken), rawSession(broker.mcpUrl, carol.accessToken), rawSession(broker.mcpUrl, aliceOther.accessToken)]);
    expect(await works(sa)).toBe(true);
    expect(await works(sc)).toBe(true);
    const [streamA, streamC, streamO] = await Promise.all([sa.openStream(), sc.openStream(), so.openStream()]);
    expect([streamA.status, streamC.status, streamO.status]).toEqual([200, 200, 200]);

    const t0 = Date.now();
    const r = await admin(['revoke', '--client', shared.clientId]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^revoked [2-9] grant\(s\)/);
    const ends = await Promise.race([Promise.all([streamA.ended, streamC.ended]), within(5_000)]);
    expect(ends).not.toBe('timeout');
    for (const at of ends as number[]) expect(at - t0).toBeLessThan(5_000);
    expect((await sa.call('tools/list')).status).toBe(401);
    expect((await sc.call('tools/list')).status).toBe(401);
    // alice's other client: its stream stays open and its calls work.
    expect(await Promise.race([streamO.ended, within(1_500)])).toBe('timeout');
    expect(await works(so)).toBe(true);
  }, 90_000);

  it('admin block --person bob cuts his running session within seconds, stops his child, refuses his tokens, and his next sign-in gets a clear page', async () => {
    const bob = await signInWithClient(tb, broker.url, other, 'bob');
    const s = await rawSession(broker.mcpUrl, bob.accessToken);
    expect(await works(s)).toBe(true);
    const stream = await s.openStream();
    const t0 = Date.now();
    const r = await admin(['block', '--person', 'bob', '--reason', 'laptop stolen']);
    expect(r.code).toBe(0);
    const ended = await Promise.race([stream.ended, within(5_000)]);
    expect(ended).not.toBe('timeout');
    expect((ended as number) - t0).toBeLessThan(5_000);
    const refused = await s.call('tools/list');
    expect(refused.status).toBe(401);
    expect(refused.text).toContain('blocked');
    for (let i = 0; i < 50 && broker.running.ctx.relay.childrenOf().includes(await personId('bob')); i++) await new Promise((res) => setTimeout(res, 100));
    expect(broker.running.ctx.relay.childrenOf()).not.toContain(await personId('bob'));

    const again = await signInWithClient(tb, broker.url, other, 'bob').catch((e: Error) => e);
    expect(again).toBeInstanceOf(Error);
    expect((again as Error).message).toMatch(/did not redirect: 403/);
    expect((again as Error).message).toContain('is blocked on this broker by its operator');
    expect((await admin(['audit', '--person', 'bob'])).out).toContain('"event":"person.blocked"');

    expect((await admin(['unblock', '--person', 'bob'])).out).toBe('unblocked bob\n');
    const back = await signInWithClient(tb, broker.url, other, 'bob');
    expect(await works(await rawSession(broker.mcpUrl, back.accessToken))).toBe(true);
  }, 90_000);

  it('admin check passes with the right settings and names the forge client credentials when the secret is wrong', async () => {
    const good = await admin(['check']);
    expect(good.code, good.out + good.err).toBe(0);
    expect(good.out).toMatch(/ok +forge client credentials accepted/);
    expect(good.out).toMatch(/ok +encryption keys open all \d+ stored forge tokens/);
    const bad = await admin(['check'], { ...broker.env, FJMCP_FORGE_CLIENT_SECRET: 'gto_wrong-secret' });
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/FAIL +forge client credentials: .*invalid_client.*FJMCP_FORGE_CLIENT_SECRET/);
  });

  it('admin backup writes an online, consistent copy of the SQLite store', async () => {
    const file = join(tmp, 'copy.sqlite');
    const r = await admin(['backup', file]);
    expect(r.code, r.err).toBe(0);
    const copy = new Database(file, { readonly: true });
    try {
      expect(copy.prepare("SELECT count(*) FROM oauth_grants WHERE login = 'alice'").pluck().get()).toBeGreaterThan(0);
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      copy.close();
    }
    expect((await admin(['backup', file])).code).toBe(2); // never overwrites
  });
});

describe('admin rotate-keys', () => {
  it('re-seals every forge token and the session-id key; with the old key removed everyone stays signed in and every session re-attaches', async () => {
    const alice = await signInWithClient(tb, broker.url, other, 'alice');
    const carol = await signInWithClient(tb, broker.url, other, 'carol');
    const sa = await rawSession(broker.mcpUrl, alice.accessToken);
    const sc = await rawSession(broker.mcpUrl, carol.accessToken);
    expect(await works(sa)).toBe(true);
    expect(await works(sc)).toBe(true);
    const oldKey = broker.env.FJMCP_ENCRYPTION_KEYS!;
    const newKey = randomBytes(32).toString('base64');

    await broker.restart({ FJMCP_ENCRYPTION_KEYS: `${newKey},${oldKey}` });
    const rotated = await admin(['rotate-keys']);
    expect(rotated.code, rotated.err).toBe(0);
    expect(rotated.out).toMatch(/forge tokens: [1-9]\d* re-sealed with the first key/);
    expect(rotated.out).toMatch(/MCP session-id key: (re-sealed|already sealed with the first key)/); // the restarted broker may have re-sealed it first

    await broker.restart({ FJMCP_ENCRYPTION_KEYS: newKey });
    const check = await admin(['check']);
    expect(check.out).toMatch(/ok +encryption keys open all \d+ stored forge tokens\n/);
    // Same tokens, same session ids: the restarted broker re-attaches both sessions.
    expect(await works(sa)).toBe(true);
    expect(await works(sc)).toBe(true);
    expect(broker.logLines.filter((l) => l.includes('unknown session id of this person re-attached')).length).toBeGreaterThanOrEqual(2);
    expect(broker.logLines.some((l) => l.includes('"event":"forge.grant_ended"'))).toBe(false);
  }, 90_000);
});

async function personId(login: string): Promise<string> {
  const p = await broker.running.ctx.store.control.findPerson(login);
  if (!p) throw new Error(`no person ${login}`);
  return p.personId;
}

