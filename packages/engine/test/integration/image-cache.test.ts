// The prepared (id-shifted) image rootfs cache, through the whole engine with
// real LXC: launches copy it, it is never shared with an instance, and it
// goes with its image.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeBusybox, writeBusyboxRootfs } from '../../src/images/busybox-rootfs.ts';
import { removeHostState, startTestEngine, type TestEngine } from './helpers.ts';

let t: TestEngine;
let work: string;
const tag = randomBytes(3).toString('hex');
const name = (base: string) => `${base}-${tag}`;

/** Root's first subordinate uid and gid (the container's root on the host). */
function subidStart(file: string): number {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('root:'));
  return Number(line?.split(':')[1]);
}

async function importVersion(alias: string, version: string): Promise<string> {
  const rootfs = path.join(work, `rootfs-${version}`);
  await writeBusyboxRootfs(rootfs, '/bin/busybox', await probeBusybox('/bin/busybox'));
  writeFileSync(path.join(rootfs, 'etc/image-version'), `${version}\n`);
  const op = await t.engine.images.importFromDirectory(
    'default',
    { rootfsDir: rootfs, metadata: { properties: { description: `cache test ${version}` } } },
    { aliases: [{ name: alias }] },
  );
  const done = await t.engine.operations.wait(op.id);
  expect(done).toMatchObject({ status: 'Success' });
  return (done.metadata as { fingerprint: string }).fingerprint;
}

function preparedDirs(fingerprint: string): string[] {
  return readdirSync(path.join(t.dataDir, 'images')).filter((n) =>
    n.startsWith(`${fingerprint}.prepared-`),
  );
}

function rootfsOf(instance: string): string {
  return path.join(t.dataDir, 'storage', 'default', 'containers', `default_${instance}`, 'rootfs');
}

async function launch(instance: string, alias: string, config: Record<string, string> = {}) {
  await t.engine.instances.createAndWait('default', {
    name: instance,
    source: { type: 'image', alias },
    config,
    start: true,
  });
}

async function execOut(instance: string, command: string[]): Promise<string> {
  const result = await t.engine.instances.exec('default', instance, { command });
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  t = await startTestEngine();
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-image-cache-'));
}, 60_000);

afterAll(async () => {
  await removeHostState(t.engine);
  await t.cleanup();
  await rm(work, { recursive: true, force: true });
}, 60_000);

describe('prepared image rootfs cache', () => {
  const alias = `cache-${tag}`;
  let fingerprint = '';

  it('launches from one shifted copy per image and id map, owned by the mapped ids', async () => {
    fingerprint = await importVersion(alias, 'v1');
    await launch(name('a'), alias);
    const [prepared, ...more] = preparedDirs(fingerprint);
    expect(prepared).toBeDefined();
    expect(more).toEqual([]);
    const uid = subidStart('/etc/subuid');
    const gid = subidStart('/etc/subgid');
    for (const entry of ['bin/busybox', 'bin/sh', 'etc/image-version', '.']) {
      const onHost = lstatSync(path.join(rootfsOf(name('a')), entry));
      expect([entry, onHost.uid, onHost.gid]).toEqual([entry, uid, gid]);
    }
    // Inside the container the same files are root's.
    expect(await execOut(name('a'), ['stat', '-c', '%u:%g', '/bin/busybox', '/etc'])).toBe(
      '0:0\n0:0\n',
    );
    expect(await execOut(name('a'), ['cat', '/etc/image-version'])).toBe('v1\n');
    // The image's own rootfs stays unshifted.
    expect(
      lstatSync(path.join(t.dataDir, 'images', `${fingerprint}.rootfs`, 'bin/busybox')).uid,
    ).toBe(0);
  }, 60_000);

  it('never shares an inode between two instances, or with the cache', async () => {
    await launch(name('b'), alias);
    expect(preparedDirs(fingerprint)).toHaveLength(1);
    const cache = path.join(t.dataDir, 'images', preparedDirs(fingerprint)[0]!, 'rootfs');
    for (const entry of ['bin/busybox', 'etc/inittab', 'bin/sh', 'etc']) {
      const inodes = [rootfsOf(name('a')), rootfsOf(name('b')), cache].map(
        (root) => lstatSync(path.join(root, entry)).ino,
      );
      expect(new Set(inodes).size).toBe(3);
    }
    expect(lstatSync(path.join(rootfsOf(name('b')), 'bin/busybox')).nlink).toBe(1);
    // A write in one instance is not seen in the other.
    await execOut(name('a'), ['sh', '-c', 'echo changed > /etc/inittab']);
    expect(await execOut(name('b'), ['cat', '/etc/inittab'])).not.toContain('changed');
  }, 60_000);

  it('keeps one more copy for another id map (raw.idmap), and none for privileged', async () => {
    await launch(name('c'), alias, { 'raw.idmap': 'both 1500000 1000' });
    expect(preparedDirs(fingerprint)).toHaveLength(2);
    expect(lstatSync(path.join(rootfsOf(name('c')), 'bin/busybox')).uid).toBe(
      subidStart('/etc/subuid'),
    );
    await launch(name('p'), alias, { 'security.privileged': 'true' });
    expect(preparedDirs(fingerprint)).toHaveLength(2);
    expect(lstatSync(path.join(rootfsOf(name('p')), 'bin/busybox')).uid).toBe(0);
    expect(await execOut(name('p'), ['stat', '-c', '%u', '/bin/busybox'])).toBe('0\n');
  }, 60_000);

  it('goes with its image: a re-imported image is prepared again from its new content', async () => {
    const exported = await t.engine.images.exportTarball('default', fingerprint);
    const tarball = path.join(work, 'v1.tar');
    execFileSync('cp', [exported.path, tarball]);
    // A stale cache would show this file in the next launch.
    const [prepared] = preparedDirs(fingerprint);
    writeFileSync(path.join(t.dataDir, 'images', prepared!, 'rootfs', 'etc', 'stale'), 'x');
    for (const instance of ['a', 'b', 'c', 'p'])
      await t.engine.instances.delete('default', name(instance), { force: true });
    await t.engine.images.delete('default', fingerprint);
    expect(preparedDirs(fingerprint)).toEqual([]);

    // The same tarball again: same fingerprint, prepared afresh.
    const op = await t.engine.images.importTarball('default', tarball, {
      aliases: [{ name: alias }],
    });
    expect(await t.engine.operations.wait(op.id)).toMatchObject({ status: 'Success' });
    await launch(name('d'), alias);
    expect(existsSync(path.join(rootfsOf(name('d')), 'etc', 'stale'))).toBe(false);
    expect(await execOut(name('d'), ['cat', '/etc/image-version'])).toBe('v1\n');
    await t.engine.instances.delete('default', name('d'), { force: true });
    await t.engine.images.delete('default', fingerprint);

    // New content under the same alias: the launch sees it.
    const second = await importVersion(alias, 'v2');
    expect(second).not.toBe(fingerprint);
    await launch(name('e'), alias);
    expect(await execOut(name('e'), ['cat', '/etc/image-version'])).toBe('v2\n');
    expect(preparedDirs(second)).toHaveLength(1);
    expect(preparedDirs(fingerprint)).toEqual([]);
  }, 120_000);
});
