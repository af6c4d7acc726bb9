// SQLite specifics live here and nowhere else: the file behind a `file:` URL,
// WAL mode and the busy timeout. PostgreSQL needs none of this.
import { access, chmod, mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';

export const busyTimeoutMs = 5_000;

export function sqliteFileOf(url: string): string {
  if (!url.startsWith('file:')) {
    throw new Error(`database url: only "file:" (SQLite) URLs are supported yet, got "${url}"`);
  }
  return path.resolve(url.slice('file:'.length));
}

/** The files SQLite keeps for one database: the file itself, the WAL, its index, a rollback journal. */
export function sqliteFilesOf(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];
}

/**
 * The database holds password hashes, token digests and exec environments:
 * root's only. SQLite creates the WAL and its index with the database file's
 * mode, so a 0600 file makes 0600 companions; files an older install left
 * 0644 are put right here, before any connection opens them.
 */
export async function secureSqliteFiles(file: string): Promise<void> {
  for (const each of sqliteFilesOf(file)) {
    await chmod(each, 0o600).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

/**
 * Creates the file (and its folder, root's only) on first start and switches
 * it to WAL, which is a property of the file, so every later connection
 * inherits it.
 */
export async function prepareSqliteFile(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Created empty and private before SQLite opens it (SQLite would make it 0644).
  await (await open(file, 'a', 0o600)).close();
  await secureSqliteFiles(file);
  const db = new Database(file, { timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Moves a database an older install kept at `from` to `to`, in a root-only
 * folder, when `to` does not exist yet. Its WAL is checkpointed into the
 * file first (closing the last connection does that and removes the WAL), so
 * one rename of one file moves everything; a crash before it leaves the old
 * location whole, and the next start moves it then.
 */
export async function adoptSqliteFile(from: string, to: string): Promise<void> {
  if (from === to || (await exists(to)) || !(await exists(from))) return;
  await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
  const old = new Database(from, { timeout: busyTimeoutMs });
  try {
    old.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    old.close();
  }
  const sources = sqliteFilesOf(from);
  const targets = sqliteFilesOf(to);
  // The companions first (normally gone after the close), the file itself last.
  for (let i = sources.length - 1; i >= 0; i--) {
    if (await exists(sources[i]!)) await rename(sources[i]!, targets[i]!);
  }
}
