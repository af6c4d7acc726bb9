// SQLite specifics live here and nowhere else: the file behind a `file:` URL,
// WAL mode and the busy timeout. PostgreSQL needs none of this.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';

export const busyTimeoutMs = 5_000;

export function sqliteFileOf(url: string): string {
  if (!url.startsWith('file:')) {
    throw new Error(`database url: only "file:" (SQLite) URLs are supported yet, got "${url}"`);
  }
  return path.resolve(url.slice('file:'.length));
}

/**
 * Creates the file (and its folder) on first start and switches it to WAL,
 * which is a property of the file, so every later connection inherits it.
 */
export async function prepareSqliteFile(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const db = new Database(file, { timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}
