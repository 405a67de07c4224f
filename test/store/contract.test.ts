/**
 * The store contract (src/store/store.ts), run unchanged against both engines: SQLite in memory
 * and PostgreSQL on the run's throw-away cluster. The concurrency cases start the competing
 * calls together (Promise.all); on PostgreSQL they run on different pooled connections, so they
 * race in the server as two replicas would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../../src/store/migrations/index.js';
import { MIGRATIONS as PG_MIGRATIONS } from '../../src/store/postgres/migrations/index.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import type { Store } from '../../src/store/store.js';
import type { NewToken } from '../../src/store/tokens.js';
import { PAT_CLIENT_ID } from '../../src/store/personal-tokens.js';
import { ENGINES, freshPostgresUrl } from '../support/stores.js';
import pg from 'pg';

const T0 = 1_800_000_000_000; // ms, beyond 2^31 on purpose: BIGINT columns come back as numbers
const opened: Store[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

const grant = (id: string, personId = 'p1') => ({ id, personId, login: `login-${personId}`, clientId: 'c1', scope: 'forge', resource: 'https://b/mcp', createdAt: T0 });
const code = (hash: string) => ({ hash, clientId: 'c1', redirectUri: 'http://127.0.0.1/cb', codeChallenge: 'ch', resource: 'https://b/mcp', scope: 'forge', expiresAt: T0 + 60_000 });
const token = (hash: string, grantId: string, kind: 'access' | 'refresh' = 'refresh'): NewToken => ({ hash, kind, grantId, clientId: 'c1', scope: 'forge', resource: 'https://b/mcp', createdAt: T0, expiresAt: T0 + 3_600_000 });
const client = { clientId: 'c1', source: 'dcr' as const, metadata: '{"client_name":"A"}', secretHash: null, createdAt: T0, lastUsedAt: null, freshUntil: null };

it('has the same migrations, in the same order, for both engines', () => {
  expect(PG_MIGRATIONS.map((m) => m.id)).toEqual(SQLITE_MIGRATIONS.map((m) => m.id));
});

it('migrates a PostgreSQL database once when three replicas start together (advisory lock)', async () => {
  const url = await freshPostgresUrl();
  const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(url)));
  opened.push(...stores);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const rows = (await c.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id')).rows.map((r) => r.id);
    expect(rows).toEqual(PG_MIGRATIONS.map((m) => m.id));
  } finally {
    await c.end();
  }
});

describe.each(ENGINES)('store contract on $name', (engine) => {
  async function open(): Promise<Store> {
    const s = await engine.open();
    opened.push(s);
    expect(s.engine).toBe(engine.name);
    await s.clients.insert(client);
    return s;
  }

  it('answers ping', async () => {
    await expect((await open()).ping()).resolves.toBeUndefined();
  });

  it('stores clients; a CIMD upsert never overwrites a DCR row, a seed never overwrites a fetched document', async () => {
    const s = await open();
    expect(await s.clients.get('c1')).toEqual(client);
    await s.clients.upsertCimd('c1', '{"evil":true}', T0, T0 + 1);
    expect((await s.clients.get('c1'))?.metadata).toBe(client.metadata);
    const url = 'https://app.example/client.json';
    await s.clients.upsertCimd(url, '{"v":1}', T0, T0 + 1000);
    await s.clients.seedCimd(url, '{"seed":true}', T0);
    expect(await s.clients.get(url)).toMatchObject({ source: 'cimd', metadata: '{"v":1}', freshUntil: T0 + 1000 });
    await s.clients.touch('c1', T0 + 5);
    expect((await s.clients.get('c1'))?.lastUsedAt).toBe(T0 + 5);
    expect(await s.clients.countDcr()).toBe(1);
  });

  it('reaps unused DCR clients (old first, then the oldest beyond the cap) and keeps those with a grant', async () => {
    const s = await open();
    await s.grants.createWithCode(grant('g1'), code('h1')); // c1 now has a grant
    for (let i = 0; i < 4; i++) await s.clients.insert({ ...client, clientId: `u${i}`, createdAt: T0 + i });
    expect(await s.clients.reapDcr(T0 + 1, 10)).toBe(1); // u0 is older than the cut-off
    expect(await s.clients.reapDcr(0, 2)).toBe(2); // 4 left, keep 2: the oldest unused (u1, u2) go
    expect(await s.clients.get('u3')).toBeDefined();
    expect(await s.clients.get('c1')).toBeDefined();
  });

  it('accepts a client assertion jti once per client, even when two replicas race, and reaps it after expiry (RFC 7523 §3 item 7)', async () => {
    const s = await open();
    const racing = await Promise.all([s.clients.claimAssertion('c1', 'j1', T0 + 300_000), s.clients.claimAssertion('c1', 'j1', T0 + 300_000)]);
    expect(racing.filter(Boolean)).toHaveLength(1);
    expect(await s.clients.claimAssertion('c1', 'j1', T0 + 300_000)).toBe(false);
    expect(await s.clients.claimAssertion('c2', 'j1', T0 + 300_000)).toBe(true); // jti is unique per issuer
    expect(await s.clients.reapAssertions(T0 + 300_000)).toBe(0); // not yet expired
    expect(await s.clients.reapAssertions(T0 + 300_001)).toBe(2);
    expect(await s.clients.claimAssertion('c1', 'j1', T0 + 900_000)).toBe(true);
  });

  it('moves a transaction consent → forge → done, each step once, even when two requests race', async () => {
    const s = await open();
    const tx = { id: 'tx1', clientId: 'c1', redirectUri: 'http://127.0.0.1/cb', state: null, codeChallenge: 'ch', resource: 'r', scope: 'forge',
      browserHash: 'b', csrfHash: 'c', phase: 'consent' as const, forgeStateHash: null, forgeVerifierSealed: null, createdAt: T0, expiresAt: T0 + 600_000 };
    await s.transactions.insert(tx);
    const approvals = await Promise.all([1, 2].map(() => s.transactions.approve('tx1', 'fs', 'sealed', T0 + 1, T0 + 600_000)));
    expect(approvals.filter(Boolean)).toHaveLength(1);
    expect(await s.transactions.getByForgeState('fs')).toMatchObject({ id: 'tx1', phase: 'forge', forgeVerifierSealed: 'sealed', state: null });
    const finishes = await Promise.all([1, 2, 3].map(() => s.transactions.finish('tx1', 'forge', T0 + 2)));
    expect(finishes.filter(Boolean)).toHaveLength(1);
    expect(await s.transactions.get('tx1')).toMatchObject({ phase: 'done', forgeVerifierSealed: null });
    expect(await s.transactions.finish('tx1', 'forge', T0 + 3)).toBe(false);
    expect(await s.transactions.reap(T0 + 4)).toBe(1);
  });

  it('counts pending transactions: unexpired and not done (the /authorize caps)', async () => {
    const s = await open();
    const tx = (id: string, expiresAt: number) => ({ id, clientId: 'c1', redirectUri: 'http://127.0.0.1/cb', state: null, codeChallenge: 'ch', resource: 'r', scope: 'forge',
      browserHash: 'b', csrfHash: 'c', phase: 'consent' as const, forgeStateHash: null, forgeVerifierSealed: null, createdAt: T0, expiresAt });
    await s.transactions.insert(tx('tx-a', T0 + 1_000));
    await s.transactions.insert(tx('tx-b', T0 + 600_000));
    await s.transactions.insert(tx('tx-c', T0 + 600_000));
    expect(await s.transactions.countPending(T0)).toBe(3);
    expect(await s.transactions.countPending(T0 + 1_000)).toBe(2); // tx-a expired
    expect(await s.transactions.finish('tx-b', 'consent', T0 + 2_000)).toBe(true);
    expect(await s.transactions.countPending(T0 + 2_000)).toBe(1); // tx-b done
  });

  it('redeems an authorization code once; a concurrent second redemption revokes the grant and its tokens (RFC 6749 §4.1.2)', async () => {
    const s = await open();
    await s.grants.createWithCode(grant('g1'), code('h1'));
    expect(await s.grants.consumeCode('nope', T0)).toEqual({ kind: 'unknown' });
    const results = await Promise.all([1, 2].map(() => s.grants.consumeCode('h1', T0 + 1)));
    const kinds = results.map((r) => r.kind).sort();
    expect(kinds).toEqual(['ok', 'replayed']);
    const ok = results.find((r) => r.kind === 'ok')!;
    expect(ok).toMatchObject({ code: { hash: 'h1', grantId: 'g1', usedAt: null, expiresAt: T0 + 60_000 } });
    expect((await s.grants.get('g1'))?.revokedAt).toBe(T0 + 1);
  });

  it('revokes a grant with every token under it, and all grants of a person at once', async () => {
    const s = await open();
    await s.grants.createWithCode(grant('g1'), code('h1'));
    await s.grants.createWithCode(grant('g2'), code('h2'));
    await s.grants.createWithCode(grant('g3', 'p2'), code('h3'));
    await s.tokens.insert(token('a1', 'g1', 'access'), token('r1', 'g1'));
    await s.tokens.insert(token('r2', 'g2'));
    expect(await s.grants.revoke('g1', 'test', T0 + 1)).toBe(true);
    expect(await s.grants.revoke('g1', 'test', T0 + 2)).toBe(false);
    expect((await s.tokens.find('a1'))?.revokedAt).toBe(T0 + 1);
    expect((await s.grants.revokeForPerson('p1', 'forge grant ended', T0 + 3)).sort()).toEqual(['g2']);
    expect((await s.tokens.find('r2'))?.revokedAt).toBe(T0 + 3);
    expect((await s.grants.get('g3'))?.revokedAt).toBeNull();
  });

  it('finds a token joined with its grant, as numbers and nulls', async () => {
    const s = await open();
    await s.grants.createWithCode(grant('g1'), code('h1'));
    await s.tokens.insert(token('a1', 'g1', 'access'));
    expect(await s.tokens.find('a1')).toEqual({
      ...token('a1', 'g1', 'access'), revokedAt: null, rotatedAt: null, successorSealed: null, graceUntil: null,
      grant: { ...grant('g1'), revokedAt: null },
    });
    expect(await s.tokens.find('missing')).toBeUndefined();
    expect(await s.tokens.revoke('a1', T0 + 1)).toBe(true);
    expect(await s.tokens.revoke('a1', T0 + 2)).toBe(false);
  });

  it('reads the bearer check in one call: token with grant, block (person id or login, any case) and forge row, each change seen at the next read', async () => {
    const s = await open();
    await s.grants.createWithCode(grant('g1'), code('h1'));
    await s.grants.createWithCode(grant('g2', 'p2'), code('h2'));
    await s.tokens.insert(token('a1', 'g1', 'access'), token('a2', 'g2', 'access'));
    expect(await s.tokens.findForBearer('missing')).toBeUndefined();
    expect(await s.tokens.findForBearer('a1')).toEqual({ token: await s.tokens.find('a1'), blocked: false, forge: undefined });

    await s.forgeTokens.put({ personId: 'p1', login: 'login-p1', sealed: 'box', issuedAt: T0, expiresAt: T0 + 3_600_000 }, T0 + 5);
    const forge = await s.forgeTokens.get('p1');
    expect(forge).toMatchObject({ version: 1, expiresAt: T0 + 3_600_000 });
    expect((await s.tokens.findForBearer('a1'))?.forge).toEqual(forge);
    expect((await s.tokens.findForBearer('a2'))?.forge).toBeUndefined(); // p2 holds no forge tokens

    await s.control.block('LOGIN-P1', null, 'test', T0 + 6); // by login, other case
    expect(await s.tokens.findForBearer('a1')).toMatchObject({ blocked: true });
    expect(await s.tokens.findForBearer('a2')).toMatchObject({ blocked: false });
    expect(await s.control.unblock('login-p1')).toBe(true);
    expect(await s.tokens.findForBearer('a1')).toMatchObject({ blocked: false });
    await s.control.block('renamed-p1', 'p1', null, T0 + 7); // by person id, the login renamed since
    expect(await s.tokens.findForBearer('a1')).toMatchObject({ blocked: true });

    await s.grants.revoke('g2', 'test', T0 + 8);
    expect(await s.tokens.findForBearer('a2')).toMatchObject({ token: { revokedAt: T0 + 8, grant: { revokedAt: T0 + 8 } } });
  });

  it('rotates a refresh token once: of five concurrent rotations exactly one inserts its successors', async () => {
    const s = await open();
    await s.grants.createWithCode(grant('g1'), code('h1'));
    await s.tokens.insert(token('r0', 'g1'));
    const wins = await Promise.all([0, 1, 2, 3, 4].map((i) =>
      s.tokens.rotate('r0', `sealed-${i}`, T0 + 1, T0 + 60_001, [token(`a-${i}`, 'g1', 'access'), token(`r-${i}`, 'g1')])));
    expect(wins.filter(Boolean)).toHaveLength(1);
    const winner = wins.indexOf(true);
    const old = await s.tokens.find('r0');
    expect(old).toMatchObject({ rotatedAt: T0 + 1, successorSealed: `sealed-${winner}`, graceUntil: T0 + 60_001 });
    for (let i = 0; i < 5; i++) expect(!!(await s.tokens.find(`r-${i}`))).toBe(i === winner);
    expect(await s.tokens.rotate('r0', 'again', T0 + 2, T0 + 2, [])).toBe(false);
  });

  it('keeps concurrent rotations of different tokens apart: one that fails (a successor hash already taken) leaves its token unrotated and the others rotated', async () => {
    const s = await open();
    await s.grants.createWithCode(grant('g1'), code('h1'));
    await s.tokens.insert(token('r0', 'g1'), token('r1', 'g1'), token('r2', 'g1'), token('taken', 'g1'));
    const outcomes = await Promise.allSettled([
      s.tokens.rotate('r0', 's0', T0 + 1, T0 + 10, [token('n0', 'g1')]),
      s.tokens.rotate('r1', 's1', T0 + 1, T0 + 10, [token('n1', 'g1'), token('taken', 'g1')]),
      s.tokens.rotate('r2', 's2', T0 + 1, T0 + 10, [token('n2', 'g1')]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await s.tokens.find('r0'))?.rotatedAt).toBe(T0 + 1);
    expect((await s.tokens.find('r1'))?.rotatedAt).toBeNull();
    expect(await s.tokens.find('n1')).toBeUndefined();
    expect((await s.tokens.find('r2'))?.rotatedAt).toBe(T0 + 1);
    expect(await s.tokens.find('n2')).toBeDefined();
  });

  it('reaps: sealed successors after the grace window, expired tokens, old codes, dead grants', async () => {
    const s = await open();
    await s.grants.createWithCode(grant('g1'), code('h1'));
    await s.tokens.insert(token('r0', 'g1'));
    await s.tokens.rotate('r0', 'sealed', T0 + 1, T0 + 10, [token('r1', 'g1')]);
    expect(await s.tokens.reap(T0 + 11)).toBe(1); // successor wiped
    expect((await s.tokens.find('r0'))?.successorSealed).toBeNull();
    expect(await s.tokens.reap(T0 + 3_600_001)).toBe(2); // both expired
    expect(await s.grants.reap(T0 + 3_600_001, 0, T0 + 1)).toBe(2); // the code, then the grant without tokens or codes
    expect(await s.grants.get('g1')).toBeUndefined();
  });

  it('keeps forge tokens by compare-and-set on the version', async () => {
    const s = (await open()).forgeTokens;
    const w = { personId: '1', login: 'alice', sealed: 'box', issuedAt: T0, expiresAt: T0 + 1 };
    expect(await s.put(w, T0)).toBe(1);
    expect(await s.put({ ...w, sealed: 'newer sign-in' }, T0)).toBe(2);
    expect(await s.replaceIfVersion({ ...w, sealed: 'late refresh' }, 1, T0)).toBeUndefined();
    expect(await s.get('1')).toEqual({ ...w, sealed: 'newer sign-in', updatedAt: T0, version: 2 });
    const raced = await Promise.all([1, 2].map((i) => s.replaceIfVersion({ ...w, sealed: `refresh ${i}` }, 2, T0)));
    expect(raced.filter((v) => v === 3)).toHaveLength(1);
    expect(raced.filter((v) => v === undefined)).toHaveLength(1);
    expect(await s.resealIfVersion('1', 2, 'x')).toBe(false);
    expect(await s.resealIfVersion('1', 3, 'resealed')).toBe(true);
    expect(await s.deleteIfVersion('1', 2)).toBe(false);
    expect(await s.deleteIfVersion('1', 3)).toBe(true);
    expect(await s.delete('1')).toBe(false);
    expect(await s.get('1')).toBeUndefined();
  });

  it('hands a person\'s forge refresh lease to one holder at a time; a lapsed lease can be taken over', async () => {
    const s = (await open()).forgeTokens;
    expect(await s.acquireRefreshLease('1', 'a', T0, T0 + 100)).toBe(false); // no row, nothing to refresh
    await s.put({ personId: '1', login: 'alice', sealed: 'box', issuedAt: T0, expiresAt: T0 + 1 }, T0);
    const first = await Promise.all(['a', 'b', 'c'].map((o) => s.acquireRefreshLease('1', o, T0, T0 + 100)));
    expect(first.filter(Boolean)).toHaveLength(1);
    const holder = ['a', 'b', 'c'][first.indexOf(true)]!;
    const other = holder === 'a' ? 'b' : 'a';
    await s.releaseRefreshLease('1', other); // not the holder: no effect
    expect(await s.acquireRefreshLease('1', other, T0 + 50, T0 + 150)).toBe(false);
    expect(await s.acquireRefreshLease('1', other, T0 + 100, T0 + 200)).toBe(true); // lapsed: taken over
    await s.releaseRefreshLease('1', other);
    expect(await s.acquireRefreshLease('1', holder, T0 + 101, T0 + 201)).toBe(true);
    expect((await s.get('1'))?.version).toBe(1); // the lease is not a new token set
  });

  it('creates a personal access token as a grant of the built-in client with one access token by digest; lists it with its use and revocation', async () => {
    const s = await open();
    const t = { grantId: 'gp1', personId: 'p1', login: 'alice', name: 'CI', tokenHash: 'h-pat', scope: 'mcp', resource: 'https://b/mcp', createdAt: T0, expiresAt: T0 + 7 * 86_400_000 };
    await s.personalTokens.create(t);
    await s.personalTokens.create({ ...t, grantId: 'gp2', tokenHash: 'h-pat2', name: 'later', createdAt: T0 + 1 }); // the client row exists already
    expect(await s.tokens.find('h-pat')).toMatchObject({ kind: 'access', grantId: 'gp1', clientId: PAT_CLIENT_ID, resource: 'https://b/mcp', expiresAt: T0 + 7 * 86_400_000 });
    await s.control.touchGrant('gp1', T0 + 5);
    await s.control.revokeGrants(['gp2'], 'test', T0 + 6);
    expect(await s.personalTokens.list('p1')).toEqual([
      { id: 'gp2', personId: 'p1', login: 'alice', name: 'later', createdAt: T0 + 1, expiresAt: T0 + 7 * 86_400_000, lastUsedAt: null, revokedAt: T0 + 6 },
      { id: 'gp1', personId: 'p1', login: 'alice', name: 'CI', createdAt: T0, expiresAt: T0 + 7 * 86_400_000, lastUsedAt: T0 + 5, revokedAt: null },
    ]);
    expect(await s.personalTokens.list('p2')).toEqual([]);
  });
});
