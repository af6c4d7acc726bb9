// The database on a full disk: the data dir's `database/` folder is a small
// tmpfs of the test's own. Filled to the last byte, a create fails with an
// error that says the disk is full and leaves no instance, volume or
// operation behind; once space is freed the same create succeeds, and
// SQLite's integrity check finds the file whole.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, removeHostState, startTestEngine, type TestEngine } from './helpers.ts';

const run = promisify(execFile);
let dataDir: string;
let databaseDir: string;
let mounted = false;
let t: TestEngine | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-full-disk-'));
  databaseDir = path.join(dataDir, 'database');
  await mkdir(databaseDir, { mode: 0o700 });
  await run('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', databaseDir]);
  mounted = true;
  t = await startTestEngine(dataDir);
  const build = await t.engine.operations.wait(
    (await t.engine.images.buildBusybox('default', { alias: 'busybox' })).id,
  );
  expect(build.status).toBe('Success');
}, 120_000);

afterAll(async () => {
  if (t) {
    await removeHostState(t.engine);
    await t.engine.close();
  }
  if (mounted) await run('umount', [databaseDir]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

const dbFile = () => path.join(databaseDir, 'berth.db');

/** SQLite's own shell on the engine's file (a second connection, as an operator would use). */
async function sqlite(sql: string): Promise<string> {
  const { stdout } = await run('sqlite3', ['-cmd', '.timeout 10000', dbFile(), sql]);
  return stdout.trim();
}

describe('the database on a full disk', () => {
  it('refuses a create clearly with nothing half-made, and takes it once space is freed', async () => {
    const engine = t!.engine;
    const filler = path.join(databaseDir, 'filler');
    // The WAL emptied into the file, so the next write must grow it on disk.
    expect((await sqlite('PRAGMA wal_checkpoint(TRUNCATE);')).split('|')[0]).toBe('0');
    await run('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k']).catch(
      (error: { stderr: string }) => {
        expect(error.stderr).toMatch(/No space left on device/);
      },
    );
    const operationsBefore = (await engine.operations.list('default')).length;

    const failure = await errorOf(
      engine.instances.createAndWait('default', {
        name: 't-full-c1',
        source: { type: 'image', alias: 'busybox' },
      }),
    );
    // SQLite's own words (SQLITE_FULL), passed through as LXD passes its errors (REST: 500 with them).
    expect(failure.message).toMatch(/database or disk is full/);

    // Nothing of it anywhere: no row, no volume row or folder, no operation.
    expect(await engine.db.instances.get('default', 't-full-c1')).toBeNull();
    expect(
      await engine.db.storage.getVolume('default', 'default', 'container', 't-full-c1'),
    ).toBeNull();
    const volume = await engine.storage.instancePaths(
      'default',
      'default',
      't-full-c1',
      'container',
    );
    expect(existsSync(volume.dir)).toBe(false);
    expect((await engine.operations.list('default')).length).toBe(operationsBefore);

    await rm(filler);
    const created = await engine.instances.createAndWait('default', {
      name: 't-full-c1',
      source: { type: 'image', alias: 'busybox' },
    });
    expect(created.status).toBe('Stopped');
    expect(existsSync(volume.dir)).toBe(true);
    expect(await sqlite('PRAGMA integrity_check;')).toBe('ok');

    // And the engine goes on over the same file after a restart.
    await engine.close();
    t = await startTestEngine(dataDir);
    expect(await t.engine.instances.names('default')).toEqual(['t-full-c1']);
    expect(await sqlite('PRAGMA integrity_check;')).toBe('ok');
  }, 180_000);
});
