/**
 * The broker's own secrets at rest (issue #13): the data directory is created 0700 and
 * broker.sqlite with its -wal and -shm files 0600, whatever the umask; files an earlier version
 * left world-readable are tightened when the database is opened.
 */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../src/store/db.js';

const mode = (p: string) => statSync(p).mode & 0o777;
const dirs: string[] = [];
let savedUmask: number | undefined;
afterEach(() => {
  if (savedUmask !== undefined) process.umask(savedUmask);
  savedUmask = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'fjmcp-perm-'));
  dirs.push(d);
  return d;
}

describe('data directory and database file modes', () => {
  it.each(['000', '022', '077'])('creates the data dir 0700 and broker.sqlite, -wal, -shm 0600 under umask %s', (umask) => {
    savedUmask = process.umask(parseInt(umask, 8));
    const dataDir = join(scratch(), 'nested', 'data');
    const path = join(dataDir, 'broker.sqlite');
    const db = openDb(path);
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)'); // WAL mode: -wal and -shm exist now
    expect(mode(dataDir)).toBe(0o700);
    for (const f of ['', '-wal', '-shm']) expect({ file: `broker.sqlite${f}`, mode: mode(path + f) }).toEqual({ file: `broker.sqlite${f}`, mode: 0o600 });
    db.close();
  });

  it('tightens a database file and its WAL left 0644 by an earlier version', () => {
    const dataDir = scratch();
    const path = join(dataDir, 'broker.sqlite');
    openDb(path).close();
    writeFileSync(`${path}-wal`, '');
    chmodSync(path, 0o644);
    chmodSync(`${path}-wal`, 0o644);
    const db = openDb(path);
    expect(mode(path)).toBe(0o600);
    expect(mode(`${path}-wal`)).toBe(0o600);
    db.close();
  });

  it('keeps the mode of a data directory the operator created', () => {
    const dataDir = join(scratch(), 'data');
    mkdirSync(dataDir, { mode: 0o750 });
    chmodSync(dataDir, 0o750);
    openDb(join(dataDir, 'broker.sqlite')).close();
    expect(mode(dataDir)).toBe(0o750);
    expect(mode(join(dataDir, 'broker.sqlite'))).toBe(0o600);
  });
});
