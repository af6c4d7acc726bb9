// Recorded exec output follows its instance and project. Real files in a temporary directory.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecOutputStore } from './exec-output.ts';

const opId = '0b8f4a5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
let dataDir: string;
let store: ExecOutputStore;

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-exec-output-'));
  store = new ExecOutputStore(dataDir);
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const record = (project: string, instance: string) =>
  store.record(project, instance, opId, { stdout: `out of ${instance}`, stderr: '' });

describe('ExecOutputStore follows its owners', () => {
  it('deletes an instance’s files with it, and no other instance’s', async () => {
    await record('p1', 'c1');
    await record('p1', 'c2');
    await store.follow({ kind: 'instance', change: 'deleted', project: 'p1', name: 'c1' });
    expect(existsSync(store.dir('p1', 'c1'))).toBe(false);
    expect(await store.list('p1', 'c2')).toEqual([`exec_${opId}.stderr`, `exec_${opId}.stdout`]);
  });

  it('moves an instance’s files to its new name, over stale ones left there', async () => {
    await record('p1', 'old');
    await store.record('p1', 'new', '1b8f4a5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', {
      stdout: 'stale',
      stderr: '',
    });
    await store.follow({
      kind: 'instance',
      change: 'renamed',
      project: 'p1',
      name: 'new',
      oldName: 'old',
    });
    expect(existsSync(store.dir('p1', 'old'))).toBe(false);
    expect(await store.list('p1', 'new')).toEqual([`exec_${opId}.stderr`, `exec_${opId}.stdout`]);
    const file = await store.path('p1', 'new', `exec_${opId}.stdout`);
    expect(await readFile(file, 'utf8')).toBe('out of old');
  });

  it('deletes and renames a project’s folder with the project', async () => {
    await record('gone', 'c1');
    await record('before', 'c1');
    await store.follow({ kind: 'project', change: 'deleted', name: 'gone' });
    await store.follow({ kind: 'project', change: 'renamed', name: 'after', oldName: 'before' });
    expect(existsSync(path.join(dataDir, 'exec-output', 'gone'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'exec-output', 'before'))).toBe(false);
    expect(await store.list('after', 'c1')).toHaveLength(2);
  });

  it('sweeps the files of instances and projects that no longer exist', async () => {
    await record('default', 'kept');
    await record('default', 'deleted');
    await record('removed-project', 'c1');
    await store.sweep(async (project) => (project === 'default' ? ['kept'] : null));
    expect(await store.list('default', 'kept')).toHaveLength(2);
    expect(existsSync(store.dir('default', 'deleted'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'exec-output', 'removed-project'))).toBe(false);
  });

  it('does nothing for owners that never recorded output', async () => {
    await store.follow({ kind: 'instance', change: 'deleted', project: 'p1', name: 'none' });
    await store.follow({
      kind: 'instance',
      change: 'renamed',
      project: 'p1',
      name: 'b',
      oldName: 'a',
    });
    await store.sweep(async () => null);
    expect(existsSync(store.dir('p1', 'b'))).toBe(false);
  });
});
