/**
 * @module store/private-files
 * The data directory and the SQLite files hold sealed forge tokens and token digests: only the
 * broker's user may read them, whatever the process umask. The directory is created 0700; the
 * database file is created (or tightened, for files an earlier version left 0644) 0600 before
 * SQLite opens it. SQLite creates `-wal` and `-shm` with the database file's mode
 * (sqlite.org/src: os_unix.c `findCreateFileMode`, `robust_open` re-applies it over the umask),
 * so they are 0600 too; existing ones are tightened here as well.
 */
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** Mode of the data directory. */
export const DATA_DIR_MODE = 0o700;
/** Mode of the database file and its `-wal`, `-shm` and `-journal` companions. */
export const DB_FILE_MODE = 0o600;

/**
 * Creates the directory of `dbPath` (mode 0700, with missing parents) and the database file
 * (mode 0600), or tightens an existing database file and its companions to 0600. An existing
 * directory keeps its mode: it may be an operator's choice, and the files in it are private anyway.
 * @throws the fs error (EACCES, ENOTDIR…) when the directory or file cannot be created.
 */
export function preparePrivateDbFile(dbPath: string): void {
  const dir = dirname(dbPath);
  // mkdirSync's mode is filtered by the umask; chmod afterwards makes it exact.
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
    chmodSync(dir, DATA_DIR_MODE);
  }
  const fd = openSync(dbPath, 'a', DB_FILE_MODE);
  try {
    fchmodSync(fd, DB_FILE_MODE);
  } finally {
    closeSync(fd);
  }
  for (const suffix of ['-wal', '-shm', '-journal']) {
    if (existsSync(dbPath + suffix)) chmodSync(dbPath + suffix, DB_FILE_MODE);
  }
}
