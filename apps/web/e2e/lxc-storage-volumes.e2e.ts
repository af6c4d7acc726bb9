// Custom storage volumes through Debian's real `lxc` 5.0.2 on the real
// server's unix socket (issue 12): create, list, show, set, attach to a
// real unprivileged busybox container that writes into it, snapshot,
// restore, rename, copy, delete refused while attached, detach, delete.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lxcCli, writeLxdTestImage, type LxcCli } from './helpers/lxc-cli.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

const suffix = randomBytes(3).toString('hex');
const C1 = `t-sv-${suffix}-c1`;
const V1 = `t-sv-${suffix}-v1`;
const V2 = `t-sv-${suffix}-v2`;
const V3 = `t-sv-${suffix}-v3`;

let server: RunningServer;
let lxc: LxcCli;
let imageDir: string;

beforeAll(async () => {
  server = await startServer();
  lxc = await lxcCli(server.dataDir);
  imageDir = await mkdtemp(path.join(os.tmpdir(), 'berth-sv-image-'));
  await lxc.ok(['image', 'import', await writeLxdTestImage(imageDir), '--alias', 'busybox']);
}, 120_000);

afterAll(async () => {
  if (lxc) {
    await lxc.run(['delete', '--force', C1]).catch(() => undefined);
    await lxc.close();
  }
  await server?.stop();
  if (imageDir) await rm(imageDir, { recursive: true, force: true });
});

describe('lxc storage volume on Berth', () => {
  it('creates and deletes a dir pool, and says why a zfs or btrfs pool cannot be made here', async () => {
    await lxc.ok(['storage', 'create', `d-${V1}`, 'dir']);
    expect((await lxc.csv(['storage', 'list'])).map((row) => row[0])).toContain(`d-${V1}`);
    await lxc.ok(['storage', 'delete', `d-${V1}`]);
    expect((await lxc.csv(['storage', 'list'])).map((row) => row[0])).not.toContain(`d-${V1}`);

    const zfs = await lxc.run(['storage', 'create', `z-${V1}`, 'zfs']);
    expect(zfs.status).not.toBe(0);
    expect(zfs.stderr).toMatch(
      existsSync('/sys/module/zfs')
        ? /driver: /
        : /ZFS is not available: the zfs kernel module is not loaded/,
    );
    const btrfs = await lxc.run(['storage', 'create', `b-${V1}`, 'btrfs']);
    expect(btrfs.stderr).toContain('Berth does not run btrfs pools yet');
    const names = (await lxc.csv(['storage', 'list'])).map((row) => row[0]);
    expect(names).not.toContain(`z-${V1}`);
    expect(names).not.toContain(`b-${V1}`);
  });

  it('creates a volume, lists it and shows it', async () => {
    expect(await lxc.ok(['storage', 'volume', 'create', 'default', V1])).toBe(
      `Storage volume ${V1} created\n`,
    );
    const rows = await lxc.csv(['storage', 'volume', 'list', 'default', '-c', 'tnc']);
    expect(rows).toContainEqual(['custom', V1, 'filesystem']);
    const shown = await lxc.ok(['storage', 'volume', 'show', 'default', V1]);
    expect(shown).toContain(`name: ${V1}\n`);
    expect(shown).toContain('type: custom\n');
    expect(shown).toContain('content_type: filesystem\n');
    expect(shown).toContain('used_by: []\n');
    const again = await lxc.run(['storage', 'volume', 'create', 'default', V1]);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('Volume by that name already exists');
  });

  it('sets the size and reads it back', async () => {
    await lxc.ok(['storage', 'volume', 'set', 'default', V1, 'size=64MiB']);
    expect(await lxc.ok(['storage', 'volume', 'get', 'default', V1, 'size'])).toBe('64MiB\n');
    const bad = await lxc.run(['storage', 'volume', 'set', 'default', V1, 'nope=1']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain(`Invalid option for volume "${V1}" option "nope"`);
  });

  it('attaches it to an unprivileged container, which writes into it', async () => {
    await lxc.ok(['launch', 'busybox', C1]);
    await lxc.ok(['stop', C1, '--force']);
    await lxc.ok(['storage', 'volume', 'attach', 'default', V1, C1, '/mnt/v1']);
    await lxc.ok(['start', C1]);
    expect(
      await lxc.ok(['exec', C1, '--', 'sh', '-c', 'echo hello > /mnt/v1/f && cat /mnt/v1/f']),
    ).toBe('hello\n');
    expect(await lxc.ok(['storage', 'volume', 'show', 'default', V1])).toContain(
      `used_by:\n- /1.0/instances/${C1}\n`,
    );
    const missing = await lxc.run([
      'config',
      'device',
      'add',
      C1,
      'nodisk',
      'disk',
      'pool=default',
      'source=no-such-volume',
      'path=/mnt/x',
    ]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('Failed loading custom volume: Storage volume not found');
  }, 120_000);

  it('refuses to delete the volume while it is attached', async () => {
    const refused = await lxc.run(['storage', 'volume', 'delete', 'default', V1]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('The storage volume is still in use');
  });

  it('snapshots and restores it', async () => {
    await lxc.ok(['storage', 'volume', 'snapshot', 'default', V1, 's0']);
    await lxc.ok(['exec', C1, '--', 'sh', '-c', 'echo changed > /mnt/v1/f']);
    // As LXD: no restore under a running instance.
    const busy = await lxc.run(['storage', 'volume', 'restore', 'default', V1, 's0']);
    expect(busy.status).not.toBe(0);
    expect(busy.stderr).toContain('Cannot restore custom volume used by running instances');
    await lxc.ok(['stop', C1, '--force']);
    await lxc.ok(['storage', 'volume', 'restore', 'default', V1, 's0']);
    await lxc.ok(['start', C1]);
    expect(await lxc.ok(['exec', C1, '--', 'cat', '/mnt/v1/f'])).toBe('hello\n');
    // The client's restore sends `"config": null`: the volume's config stays.
    expect(await lxc.ok(['storage', 'volume', 'get', 'default', V1, 'size'])).toBe('64MiB\n');
    const rows = await lxc.csv(['storage', 'volume', 'list', 'default', '-c', 'tn']);
    expect(rows).toContainEqual(['custom (snapshot)', `${V1}/s0`]);
  }, 120_000);

  it('copies it, snapshots included, and renames the copy', async () => {
    await lxc.ok(['storage', 'volume', 'copy', `default/${V1}`, `default/${V2}`]);
    expect(await lxc.csv(['storage', 'volume', 'list', 'default', '-c', 'tn'])).toEqual(
      expect.arrayContaining([
        ['custom', V2],
        ['custom (snapshot)', `${V2}/s0`],
      ]),
    );
    await lxc.ok(['storage', 'volume', 'rename', 'default', V2, V3]);
    const names = (await lxc.csv(['storage', 'volume', 'list', 'default', '-c', 'n'])).map(
      ([n]) => n,
    );
    expect(names).toContain(V3);
    expect(names).not.toContain(V2);
    await lxc.ok(['storage', 'volume', 'delete', 'default', V3]);
  });

  it('detaches it and then deletes it', async () => {
    await lxc.ok(['stop', C1, '--force']);
    await lxc.ok(['storage', 'volume', 'detach', 'default', V1, C1]);
    expect(await lxc.ok(['config', 'device', 'list', C1])).not.toContain(V1);
    await lxc.ok(['storage', 'volume', 'delete', 'default', V1]);
    const names = (await lxc.csv(['storage', 'volume', 'list', 'default', '-c', 'n'])).map(
      ([n]) => n,
    );
    expect(names.some((n) => n?.startsWith(V1))).toBe(false);
  });
});
