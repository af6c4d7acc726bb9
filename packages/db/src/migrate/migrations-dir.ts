// Reads prisma/migrations in Prisma's own layout: one folder per migration,
// named `<timestamp>_<name>`, holding `migration.sql`, plus
// `migration_lock.toml` naming the provider.
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MigrationList } from '@prisma/schema-engine-wasm/schema_engine_bg';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The repository's `prisma/` folder. */
export const prismaDir = path.join(repoRoot, 'prisma');
export const defaultMigrationsDir = path.join(prismaDir, 'migrations');
export const schemaPath = path.join(prismaDir, 'schema.prisma');

export async function readSchema(file = schemaPath): Promise<{ path: string; content: string }> {
  return { path: file, content: await readFile(file, 'utf8') };
}

export async function loadMigrationList(baseDir = defaultMigrationsDir): Promise<MigrationList> {
  const lockPath = path.join(baseDir, 'migration_lock.toml');
  const entries = existsSync(baseDir) ? await readdir(baseDir, { withFileTypes: true }) : [];
  const dirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const migrationDirectories = await Promise.all(
    dirs.map(async (dir) => {
      const file = path.join(baseDir, dir, 'migration.sql');
      try {
        return {
          path: dir,
          migrationFile: {
            path: 'migration.sql',
            content: { tag: 'ok' as const, value: await readFile(file, 'utf8') },
          },
        };
      } catch (error) {
        return {
          path: dir,
          migrationFile: {
            path: 'migration.sql',
            content: { tag: 'error' as const, value: String(error) },
          },
        };
      }
    }),
  );
  return {
    baseDir,
    lockfile: {
      path: 'migration_lock.toml',
      content: existsSync(lockPath) ? await readFile(lockPath, 'utf8') : null,
    },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}
