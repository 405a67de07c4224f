/**
 * Forge tokens at rest: sealing (no plaintext in the SQLite files), AAD binding to the person,
 * key rotation with re-seal on read, the refresh margin, and the store's compare-and-set.
 * No forge is involved: every token here is fresh, so the forge is never called.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sealer } from '../../src/lib/crypto.js';
import { createAudit } from '../../src/ops/audit.js';
import { silentLogger } from '../../src/ops/log.js';
import { openDb, type Db } from '../../src/store/db.js';
import { createForgeTokenStore, type ForgeTokenStore } from '../../src/store/forge-tokens-store.js';
import { createForgeTokens, needsRefresh, refreshMarginMs } from '../../src/upstream/forge-tokens.js';
import { ForgeGrantEndedError, type ForgeClient, type ForgeIdentity } from '../../src/upstream/types.js';

const k1 = Buffer.alloc(32, 1);
const k2 = Buffer.alloc(32, 2);
const alice: ForgeIdentity = { id: '1', login: 'alice', isAdmin: false };
const AT = 'eyJhbGciOiJSUzI1NiJ9.access-token-plaintext-marker.sig';
const RT = 'eyJhbGciOiJSUzI1NiJ9.refresh-token-plaintext-marker.sig';
const T0 = 1_800_000_000_000;

/** A forge that must not be reached: these tests only use tokens far from expiry. */
const unreachableForge: ForgeClient = new Proxy({} as ForgeClient, {
  get: (_t, name) => () => {
    throw new Error(`forge.${String(name)} must not be called in this test`);
  },
});

const dirs: string[] = [];
const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(keys: Buffer[], db?: Db) {
  let dir = '';
  if (!db) {
    dir = mkdtempSync(join(tmpdir(), 'fjmcp-forge-tokens-'));
    dirs.push(dir);
    db = openDb(join(dir, 'broker.sqlite'));
    dbs.push(db);
  }
  const store = createForgeTokenStore(db);
  let now = T0;
  const ended: string[] = [];
  const tokens = createForgeTokens({
    config: { encryptionKeys: keys, allow: { users: [], orgs: [] } },
    store,
    forge: unreachableForge,
    log: silentLogger,
    audit: createAudit(silentLogger),
    clock: () => now,
  });
  tokens.onGrantEnded((p) => ended.push(p));
  return { dir, db, store, tokens, ended, skip: (ms: number) => (now += ms) };
}

describe('forge tokens at rest', () => {
  it('keeps no token plaintext in the database files (sealed AES-256-GCM at rest)', async () => {
    const { dir, db, tokens } = setup([k1]);
    await tokens.save(alice, { accessToken: AT, refreshToken: RT, expiresAt: T0 + 3_600_000 });
    expect(await tokens.current('1')).toEqual({ accessToken: AT, expiresAt: T0 + 3_600_000 });
    db.pragma('wal_checkpoint(TRUNCATE)');
    const files = readdirSync(dir);
    expect(files).toContain('broker.sqlite');
    for (const f of files) {
      const bytes = readFileSync(join(dir, f)).toString('latin1');
      expect(bytes).not.toContain('access-token-plaintext-marker');
      expect(bytes).not.toContain('refresh-token-plaintext-marker');
    }
  });

  it('binds the sealed box to the person: a box copied to another person does not open (AAD = person id)', async () => {
    const { store, tokens, ended } = setup([k1]);
    await tokens.save(alice, { accessToken: AT, refreshToken: RT, expiresAt: T0 + 3_600_000 });
    expect((await tokens.current('1')).accessToken).toBe(AT); // alice's box is opened (and kept opened) first
    const row = (await store.get('1'))!;
    await store.put({ personId: '2', login: 'mallory', sealed: row.sealed, issuedAt: T0, expiresAt: row.expiresAt }, T0);
    await expect(tokens.current('2')).rejects.toThrow(ForgeGrantEndedError);
    expect(await store.get('2')).toBeUndefined();
    expect(ended).toEqual(['2']);
    expect((await tokens.current('1')).accessToken).toBe(AT);
  });

  it('opens rows sealed with an older key and re-seals them with the newest key on read (key rotation)', async () => {
    const before = setup([k1]);
    await before.tokens.save(alice, { accessToken: AT, refreshToken: RT, expiresAt: T0 + 3_600_000 });
    const oldBox = (await before.store.get('1'))!.sealed;

    const rotated = setup([k2, k1], before.db);
    expect(await rotated.tokens.current('1')).toEqual({ accessToken: AT, expiresAt: T0 + 3_600_000 });
    const row = (await rotated.store.get('1'))!;
    expect(row.sealed).not.toBe(oldBox);
    expect(new Sealer([k2, k1]).isStale(row.sealed)).toBe(false);
    expect(row.version).toBe(1); // a re-seal is not a new token set

    const oldKeyRetired = setup([k2], before.db);
    expect((await oldKeyRetired.tokens.current('1')).accessToken).toBe(AT);
  });

  it('ends the forge grant when no configured key opens the row (key removed from the ring)', async () => {
    const before = setup([k1]);
    await before.tokens.save(alice, { accessToken: AT, refreshToken: RT, expiresAt: T0 + 3_600_000 });
    const after = setup([k2], before.db);
    await expect(after.tokens.current('1')).rejects.toThrow(ForgeGrantEndedError);
    expect(await after.store.get('1')).toBeUndefined();
    expect(after.ended).toEqual(['1']);
  });

  it('answers ForgeGrantEndedError for a person without forge tokens, and forget() deletes them', async () => {
    const { tokens } = setup([k1]);
    await expect(tokens.current('1')).rejects.toThrow(ForgeGrantEndedError);
    await tokens.save(alice, { accessToken: AT, refreshToken: RT, expiresAt: T0 + 3_600_000 });
    await tokens.forget('1');
    await expect(tokens.current('1')).rejects.toThrow(ForgeGrantEndedError);
  });

  it('keeps one row per person: the newest sign-in replaces the token set, also right after the old one was served', async () => {
    const { store, tokens } = setup([k1]);
    await tokens.save(alice, { accessToken: AT, refreshToken: RT, expiresAt: T0 + 3_600_000 });
    expect((await tokens.current('1')).accessToken).toBe(AT);
    await tokens.save({ ...alice, login: 'alice-renamed' }, { accessToken: `${AT}2`, refreshToken: `${RT}2`, expiresAt: T0 + 7_200_000 });
    expect(await tokens.current('1')).toEqual({ accessToken: `${AT}2`, expiresAt: T0 + 7_200_000 });
    expect(await store.get('1')).toMatchObject({ login: 'alice-renamed', version: 2 });
  });
});

describe('refresh margin: min(300 s, lifetime / 4) before expiry', () => {
  it('refreshes a 60 s token 15 s before expiry and a 3600 s token 300 s before', () => {
    expect(refreshMarginMs(0, 60_000)).toBe(15_000);
    expect(refreshMarginMs(0, 3_600_000)).toBe(300_000);
    expect(refreshMarginMs(0, 800_000)).toBe(200_000);
    const short = { issuedAt: T0, expiresAt: T0 + 60_000 };
    expect(needsRefresh(short, T0 + 44_999)).toBe(false);
    expect(needsRefresh(short, T0 + 45_000)).toBe(true);
    expect(needsRefresh(short, T0 + 61_000)).toBe(true);
    const hour = { issuedAt: T0, expiresAt: T0 + 3_600_000 };
    expect(needsRefresh(hour, T0 + 3_299_999)).toBe(false);
    expect(needsRefresh(hour, T0 + 3_300_000)).toBe(true);
  });

  it('serves the stored token without calling the forge while outside the margin', async () => {
    const { tokens, skip } = setup([k1]);
    await tokens.save(alice, { accessToken: AT, refreshToken: RT, expiresAt: T0 + 60_000 });
    skip(44_000);
    expect((await tokens.current('1')).accessToken).toBe(AT); // unreachableForge would throw
  });
});

describe('forge token store compare-and-set', () => {
  function store(): ForgeTokenStore {
    const db = openDb(':memory:');
    dbs.push(db);
    return createForgeTokenStore(db);
  }
  const w = { personId: '1', login: 'alice', sealed: 'box', issuedAt: T0, expiresAt: T0 + 1 };

  it('replaces a row only at the expected version, so a slow refresh cannot overwrite a newer sign-in', async () => {
    const s = store();
    expect(await s.put(w, T0)).toBe(1);
    expect(await s.put({ ...w, sealed: 'newer sign-in' }, T0)).toBe(2);
    expect(await s.replaceIfVersion({ ...w, sealed: 'late refresh' }, 1, T0)).toBeUndefined();
    expect((await s.get('1'))?.sealed).toBe('newer sign-in');
    expect(await s.replaceIfVersion({ ...w, sealed: 'refresh' }, 2, T0)).toBe(3);
    expect(await s.deleteIfVersion('1', 2)).toBe(false);
    expect(await s.resealIfVersion('1', 2, 'x')).toBe(false);
    expect(await s.resealIfVersion('1', 3, 'resealed')).toBe(true);
    expect(await s.get('1')).toMatchObject({ sealed: 'resealed', version: 3 });
    expect(await s.deleteIfVersion('1', 3)).toBe(true);
    expect(await s.get('1')).toBeUndefined();
  });
});
