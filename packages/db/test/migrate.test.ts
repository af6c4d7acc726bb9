// The migration runner against real SQLite files.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyMigrations,
  createMigration,
  diffSchemaAgainstMigrations,
  defaultMigrationsDir,
  schemaPath,
} from '../src/migrate/index.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'berth-db-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare("select name from sqlite_master where type = 'table' order by name")
      .all()
      .map((r) => (r as { name: string }).name);
  } finally {
    db.close();
  }
}

describe('applyMigrations', () => {
  it('creates the database file on first start, in WAL mode, with every table', async () => {
    const file = path.join(dir, 'nested', 'berth.db');
    const applied = await applyMigrations({ url: `file:${file}` });
    const committed = (await readdir(defaultMigrationsDir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect(applied).toEqual(committed);
    expect(tables(file)).toEqual(
      expect.arrayContaining([
        'Project',
        'Instance',
        'InstanceConfig',
        'Operation',
        'User',
        'ApiToken',
        'AuditLog',
        '_prisma_migrations',
      ]),
    );
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('records migrations the way `prisma migrate deploy` does, and a second start applies nothing', async () => {
    const url = `file:${path.join(dir, 'berth.db')}`;
    await applyMigrations({ url });
    expect(await applyMigrations({ url })).toEqual([]);
    const db = new Database(path.join(dir, 'berth.db'), { readonly: true });
    const rows = db
      .prepare(
        'select migration_name, finished_at, rolled_back_at, checksum from _prisma_migrations',
      )
      .all() as {
      migration_name: string;
      finished_at: string | null;
      rolled_back_at: string | null;
      checksum: string;
    }[];
    db.close();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.finished_at).not.toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('refuses a database whose applied migration was edited afterwards', async () => {
    const migrations = path.join(dir, 'migrations');
    await cp(defaultMigrationsDir, migrations, { recursive: true });
    const url = `file:${path.join(dir, 'berth.db')}`;
    await applyMigrations({ url, migrationsDir: migrations });
    const first = (await readdir(migrations, { withFileTypes: true })).find((e) =>
      e.isDirectory(),
    )!.name;
    const sqlFile = path.join(migrations, first, 'migration.sql');
    await writeFile(
      sqlFile,
      (await readFile(sqlFile, 'utf8')) + '\nCREATE TABLE "Sneaky" ("id" INTEGER);\n',
    );
    // Prisma warns about the checksum but does not re-run an applied migration.
    expect(await applyMigrations({ url, migrationsDir: migrations })).toEqual([]);
    expect(tables(path.join(dir, 'berth.db'))).not.toContain('Sneaky');
  });
});

describe('createMigration', () => {
  it('finds nothing to write when schema.prisma matches the committed migrations', async () => {
    expect(await diffSchemaAgainstMigrations()).toBe('');
  });

  it('writes the next migration from a schema change, and the runner applies it', async () => {
    const migrations = path.join(dir, 'migrations');
    await cp(defaultMigrationsDir, migrations, { recursive: true });
    const schemaFile = path.join(dir, 'schema.prisma');
    const schema = await readFile(schemaPath, 'utf8');
    await writeFile(
      schemaFile,
      `${schema}\nmodel Widget {\n  id   Int    @id @default(autoincrement())\n  name String @unique\n}\n`,
    );

    const url = `file:${path.join(dir, 'berth.db')}`;
    await applyMigrations({ url, migrationsDir: migrations });

    const written = await createMigration('add_widget', {
      migrationsDir: migrations,
      schemaFile,
      now: new Date('2030-01-02T03:04:05Z'),
    });
    expect(written).toBe(path.join(migrations, '20300102030405_add_widget'));
    const sql = await readFile(path.join(written!, 'migration.sql'), 'utf8');
    expect(sql).toContain('CREATE TABLE "Widget"');
    expect(sql).not.toContain('CREATE TABLE "Instance"');

    expect(await applyMigrations({ url, migrationsDir: migrations })).toEqual([
      '20300102030405_add_widget',
    ]);
    expect(tables(path.join(dir, 'berth.db'))).toContain('Widget');
    expect(await createMigration('again', { migrationsDir: migrations, schemaFile })).toBeNull();
  });

  it('refuses a migration name that would make an awkward folder', async () => {
    await expect(
      createMigration('Add Widget!', { migrationsDir: path.join(dir, 'm') }),
    ).rejects.toThrow(/migration name/);
  });
});
