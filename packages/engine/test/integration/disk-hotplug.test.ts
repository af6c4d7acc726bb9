// Disk devices on a running, unprivileged container follow at once, as LXD
// hot-plugs them (`lxc config device add c1 share disk source=... path=...`):
// added, changed, made read-only and removed without a restart, and none of
// it reaches the host's own mount table.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startTestEngine, type TestEngine } from './helpers.ts';

const name = `hp${randomBytes(3).toString('hex')}`;
let t: TestEngine;
let share: string;

async function sh(script: string) {
  return t.engine.instances.exec('default', name, { command: ['sh', '-c', script] });
}

/** Mount points of the host's own namespace naming `dir`. */
function hostMountsOf(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(dir));
}

beforeAll(async () => {
  t = await startTestEngine();
  share = mkdtempSync(path.join(os.tmpdir(), 'berth-hotplug-'));
  // Host root's files, which the container's (unmapped) root reads as anyone may.
  chmodSync(share, 0o755);
  writeFileSync(path.join(share, 'greeting'), 'hello from the host\n');
  const build = await t.engine.images.buildBusybox('default', { alias: 'busybox' });
  expect(await t.engine.operations.wait(build.id)).toMatchObject({ status: 'Success' });
  await t.engine.instances.createAndWait('default', {
    name,
    source: { type: 'image', alias: 'busybox' },
  });
  await t.engine.instances.changeStateAndWait('default', name, { action: 'start' });
}, 120_000);

afterAll(async () => {
  await t.engine.instances
    .changeStateAndWait('default', name, { action: 'stop', force: true })
    .catch(() => {});
  await t.engine.instances.delete('default', name).catch(() => {});
  await t.cleanup();
  await rm(share, { recursive: true, force: true });
}, 60_000);

describe('disk hot-plug on a running container', () => {
  it('mounts an added disk at once, creating its path', async () => {
    expect((await t.engine.instances.state('default', name)).status).toBe('Running');
    await t.engine.instances.patch('default', name, {
      devices: { share: { type: 'disk', source: share, path: '/mnt/deep/share' } },
    });
    const read = await sh('cat /mnt/deep/share/greeting');
    expect(read).toMatchObject({ exitCode: 0, stdout: 'hello from the host\n' });
    // Only the container sees it.
    expect(hostMountsOf('/mnt/deep/share')).toEqual([]);
  });

  it('follows a change: read-only at a new path, the old path empty', async () => {
    await t.engine.instances.patch('default', name, {
      devices: { share: { type: 'disk', source: share, path: '/data', readonly: 'true' } },
    });
    expect(await sh('cat /data/greeting')).toMatchObject({ stdout: 'hello from the host\n' });
    const write = await sh('echo x > /data/new 2>&1; echo $?');
    expect(write.stdout).not.toMatch(/^0$/m);
    expect(await sh('ls -A /mnt/deep/share')).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('unmounts a removed disk', async () => {
    const current = await t.engine.instances.get('default', name);
    const devices = { ...current.devices };
    delete devices.share;
    await t.engine.instances.update('default', name, {
      description: current.description,
      config: Object.fromEntries(
        Object.entries(current.config).filter(([k]) => !k.startsWith('volatile.')),
      ),
      devices,
      profiles: current.profiles,
      ephemeral: current.ephemeral,
    });
    expect(await sh('ls -A /data')).toMatchObject({ exitCode: 0, stdout: '' });
    expect(await sh('grep -c " /data " /proc/mounts')).toMatchObject({ stdout: '0\n' });
  });

  it('refuses a missing source, naming the device, and keeps the config as it was', async () => {
    const err = await errorOf(
      t.engine.instances.patch('default', name, {
        devices: { gone: { type: 'disk', source: `${share}-missing`, path: '/gone' } },
      }),
    );
    expect(err.message).toContain('devices["gone"]');
    expect((await t.engine.instances.get('default', name)).devices.gone).toBeUndefined();
  });
});
