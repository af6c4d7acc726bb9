import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceMap } from '../../schemas/index.ts';
import { applyDiskChanges } from './vm-block-hotplug.ts';
import { vmPaths } from './qemu-paths.ts';
import {
  guestMountArgv,
  hostDisksOf,
  blockIds,
  liveShareChanges,
  parseProcMounts,
  planShares,
  qemuBlockDisks,
  qemuShares,
  readSharePlan,
  shareIds,
  writeSharePlan,
  type SharePlan,
} from './vm-shares.ts';

const ROOT = { type: 'disk', path: '/', pool: 'default' };

describe('hostDisksOf', () => {
  it('takes host-path and custom-volume disks, parents first, with required and readonly read as LXD does', () => {
    const disks = hostDisksOf({
      root: ROOT,
      vol: { type: 'disk', pool: 'default', source: 'v', path: '/v' },
      ci: { type: 'disk', source: 'cloud-init:config' },
      eth0: { type: 'nic', network: 'br' },
      inner: { type: 'disk', source: '/srv/b', path: '/mnt/a/b', readonly: 'true' },
      outer: { type: 'disk', source: '/srv/a', path: '/mnt/a', required: 'false' },
      old: { type: 'disk', source: '/srv/c', path: '/mnt/c', optional: 'true' },
    });
    expect(disks).toEqual([
      { device: 'outer', source: '/srv/a', path: '/mnt/a', readonly: false, required: false },
      { device: 'inner', source: '/srv/b', path: '/mnt/a/b', readonly: true, required: true },
      { device: 'old', source: '/srv/c', path: '/mnt/c', readonly: false, required: false },
      { device: 'vol', source: 'v', pool: 'default', path: '/v', readonly: false, required: true },
    ]);
  });
});

describe('shareIds', () => {
  it('names QEMU ids and 9p tags after the device when it fits', () => {
    expect(shareIds('share')).toEqual({ id: 'fs-share', tag: 'berth_share' });
  });
  it('hashes names QEMU cannot take or that are too long for a tag, in forms a name never has', () => {
    const colon = shareIds('disk:1');
    expect(colon.id).toMatch(/^fsh-[0-9a-f]{16}$/);
    expect(colon.tag).toMatch(/^berthh_[0-9a-f]{16}$/);
    const long = shareIds('x'.repeat(40));
    expect(long.id).toBe(`fs-${'x'.repeat(40)}`);
    expect(long.tag.length).toBeLessThanOrEqual(31);
    expect(shareIds('a').tag).not.toBe(shareIds('b').tag);
  });
});

describe('guestMountArgv', () => {
  it('passes path, options and tag as arguments, never inside the script', () => {
    const argv = guestMountArgv({ path: '/mnt/a b;$(x)', tag: 'berth_a', readonly: true });
    expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(argv[2]).toContain('mkdir -p "$1" && mount -t 9p -o "$2" "$3" "$1"');
    expect(argv.slice(3)).toEqual([
      'sh',
      '/mnt/a b;$(x)',
      'trans=virtio,version=9p2000.L,msize=262144,ro',
      'berth_a',
    ]);
    expect(guestMountArgv({ path: '/m', tag: 't', readonly: false })[5]).not.toContain('ro');
  });
});

describe('parseProcMounts', () => {
  it('unescapes the octal the kernel writes for spaces', () => {
    expect(
      parseProcMounts('/dev/vda / ext4 rw 0 0\nberth_s /mnt/my\\040share 9p rw,trans=virtio 0 0\n'),
    ).toEqual([
      { source: '/dev/vda', target: '/', type: 'ext4' },
      { source: 'berth_s', target: '/mnt/my share', type: '9p' },
    ]);
  });
});

describe('planShares (on the host)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-shares-'));
    mkdirSync(path.join(dir, 'share'));
    writeFileSync(path.join(dir, 'file.img'), 'x');
    symlinkSync(path.join(dir, 'share'), path.join(dir, 'link'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shares a directory under its real path, and skips a missing one that is not required', async () => {
    const plan = await planShares({
      root: ROOT,
      s: { type: 'disk', source: path.join(dir, 'link'), path: '/mnt/s', readonly: 'true' },
      gone: { type: 'disk', source: path.join(dir, 'nope'), path: '/mnt/g', required: 'false' },
    });
    expect(plan.disks).toEqual([
      expect.objectContaining({
        device: 'gone',
        kind: 'skipped',
        reason: `source "${path.join(dir, 'nope')}" does not exist`,
      }),
      expect.objectContaining({
        device: 's',
        kind: 'share',
        resolved: path.join(dir, 'share'),
        tag: 'berth_s',
        mount: 'pending',
      }),
    ]);
    expect(qemuShares(plan)).toEqual([
      { device: 's', id: 'fs-s', tag: 'berth_s', source: path.join(dir, 'share'), readonly: true },
    ]);
  });

  it.each([
    [
      { type: 'disk', source: '/nonexistent-berth-share', path: '/mnt/x' },
      'INVALID_ARGUMENT',
      'devices["d"]["source"]',
      'Missing source path "/nonexistent-berth-share" for disk "d"',
    ],
    [
      { type: 'disk', source: 'FILE', path: '/mnt/x' },
      'INVALID_ARGUMENT',
      'devices["d"]["path"]',
      'File mounting to filesystem paths is not supported for virtual machines',
    ],
    [
      { type: 'disk', source: 'FILE' },
      'NOT_IMPLEMENTED',
      'devices["d"]["source"]',
      'a host file or block device as a VM disk is not supported by Berth yet',
    ],
    [
      { type: 'disk', source: 'DIR' },
      'INVALID_ARGUMENT',
      'devices["d"]["path"]',
      'Missing mount "path" setting',
    ],
  ])('refuses %j clearly', async (device, code, fieldName, message) => {
    const source = device.source
      .replace('FILE', path.join(dir, 'file.img'))
      .replace('DIR', path.join(dir, 'share'));
    const error = await planShares({ root: ROOT, d: { ...device, source } }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code, field: fieldName });
    expect((error as Error).message).toContain(message);
  });
});

describe('planShares with custom volumes', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-volumes-'));
    mkdirSync(path.join(dir, 'fsvol'));
    writeFileSync(path.join(dir, 'root.img'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const attach = async (spec: { pool: string; source: string }) =>
    path.join(dir, spec.source === 'blk' ? 'root.img' : 'fsvol');

  it('attaches a block volume as a virtio disk named after the device, and shares a filesystem volume', async () => {
    const plan = await planShares(
      {
        root: ROOT,
        data: { type: 'disk', pool: 'default', source: 'blk', readonly: 'true' },
        files: { type: 'disk', pool: 'default', source: 'fs', path: '/srv/files' },
      },
      attach,
    );
    expect(qemuBlockDisks(plan)).toEqual([
      {
        device: 'data',
        id: 'vol-data',
        serial: 'data',
        file: path.join(dir, 'root.img'),
        readonly: true,
        port: 'hp0',
      },
    ]);
    expect(qemuShares(plan)).toEqual([
      {
        device: 'files',
        id: 'fs-files',
        tag: 'berth_files',
        source: path.join(dir, 'fsvol'),
        readonly: false,
      },
    ]);
  });

  it('refuses a block volume with a path and a filesystem volume without one, naming the field', async () => {
    for (const [device, message] of [
      [{ type: 'disk', pool: 'default', source: 'blk', path: '/mnt/x' }, 'cannot have a path'],
      [{ type: 'disk', pool: 'default', source: 'fs' }, 'Missing mount "path" setting'],
    ] as const) {
      const error = await planShares({ root: ROOT, d: device }, attach).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'devices["d"]["path"]' });
      expect((error as Error).message).toContain(message);
    }
  });

  it('hashes a device name no serial can hold', () => {
    expect(blockIds('disk:1')).toEqual({
      id: expect.stringMatching(/^volh-[0-9a-f]{16}$/),
      serial: expect.stringMatching(/^h-[0-9a-f]{16}$/),
    });
    expect(blockIds('x'.repeat(21)).serial).toMatch(/^h-/);
  });

  it('plans block volumes on root ports of their own, with spares for hot-plug', async () => {
    const plan = await planShares(
      { root: ROOT, data: { type: 'disk', pool: 'default', source: 'blk' } },
      attach,
    );
    expect(plan.disks).toEqual([expect.objectContaining({ kind: 'block', port: 'hp0' })]);
    expect(plan.ports).toBe(5);
  });
});

/** QMP as the hot-plug sees it: records commands; a device is gone once `device_del` was asked. */
function fakeQmp() {
  const calls: [string, Record<string, unknown> | undefined][] = [];
  const devices = new Set<string>();
  const qmp = async (command: string, args?: Record<string, unknown>) => {
    calls.push([command, args]);
    if (command === 'device_add') devices.add(String(args?.['id']));
    if (command === 'device_del') devices.delete(String(args?.['id']));
    if (command === 'qom-list') return [...devices].map((name) => ({ name }));
    return {};
  };
  return { qmp, calls, devices };
}

describe('applyDiskChanges (a running VM)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-hotplug-'));
    mkdirSync(path.join(dir, 'fsvol'));
    writeFileSync(path.join(dir, 'root.img'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const attachVolume = async (spec: { source: string }) =>
    path.join(dir, spec.source.startsWith('blk') ? 'root.img' : 'fsvol');
  const blk = (source = 'blk') => ({
    device: 'data',
    source,
    pool: 'default',
    readonly: false,
    required: true,
  });

  it('hot-plugs a block volume into a free port, then unplugs it once the guest let go', async () => {
    const { qmp, calls, devices } = fakeQmp();
    const records: SharePlan[] = [];
    const access = { qmp, attachVolume, record: (p: SharePlan) => records.push(p) };
    const empty: SharePlan = { disks: [], ports: 4 };
    const plugged = await applyDiskChanges(empty, [blk()], access);
    expect(calls.map(([c]) => c)).toEqual(['blockdev-add', 'device_add']);
    expect(calls[1]?.[1]).toMatchObject({ driver: 'virtio-blk-pci', serial: 'data', bus: 'hp0' });
    expect(devices).toEqual(new Set(['dev-vol-data']));
    expect(records.at(-1)?.disks).toEqual([
      expect.objectContaining({ kind: 'block', port: 'hp0' }),
    ]);

    calls.length = 0;
    const unplugged = await applyDiskChanges(plugged, [], access);
    expect(calls.map(([c]) => c)).toEqual(['device_del', 'qom-list', 'blockdev-del']);
    expect(unplugged.disks).toEqual([]);
    expect(records.at(-1)?.disks).toEqual([]);
  });

  it('refuses a directory share or a filesystem volume before plugging anything (LXD’s words)', async () => {
    const { qmp, calls } = fakeQmp();
    const access = { qmp, attachVolume, record: () => {} };
    for (const wanted of [
      [{ device: 'late', source: '/srv', path: '/l', readonly: false, required: true }],
      [{ ...blk(), device: 'files', source: 'fs', path: '/srv/files' }],
      [blk(), { device: 'late', source: '/srv', path: '/l', readonly: false, required: true }],
    ]) {
      const error = await applyDiskChanges({ disks: [], ports: 4 }, wanted, access).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'CONFLICT' });
      expect((error as Error).message).toContain(
        'Cannot attach directory while instance is running',
      );
    }
    expect(calls).toEqual([]);
  });

  it('says when every hot-plug slot is taken', async () => {
    const { qmp } = fakeQmp();
    const error = await applyDiskChanges({ disks: [], ports: 0 }, [blk()], {
      qmp,
      attachVolume,
      record: () => {},
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFLICT', field: 'devices["data"]' });
    expect((error as Error).message).toMatch(/hot-plug slots are taken/);
  });
});

describe('a running VM refuses changes to its shares', () => {
  const plan: SharePlan = {
    disks: [
      {
        device: 's',
        source: '/srv/link',
        path: '/mnt/s',
        readonly: false,
        required: true,
        kind: 'share',
        resolved: '/srv/real',
        id: 'fs-s',
        tag: 'berth_s',
        mount: 'mounted',
      },
    ],
  };
  const same = async (now: string, planned: { source: string }) => now === planned.source;
  const spec = {
    device: 's',
    source: '/srv/link',
    path: '/mnt/s',
    readonly: false,
    required: true,
  };

  it('finds what was attached, detached or changed', async () => {
    expect(await liveShareChanges(plan, [spec], same)).toEqual([]);
    expect(await liveShareChanges(plan, [], same)).toEqual([{ device: 's', kind: 'detach' }]);
    expect(
      await liveShareChanges(plan, [spec, { ...spec, device: 'late', path: '/mnt/late' }], same),
    ).toEqual([{ device: 'late', kind: 'attach' }]);
    expect(await liveShareChanges(plan, [{ ...spec, readonly: true }], same)).toEqual([
      { device: 's', kind: 'update' },
    ]);
    expect(await liveShareChanges(plan, [{ ...spec, source: '/srv/other' }], same)).toEqual([
      { device: 's', kind: 'update' },
    ]);
  });

  it('answers in LXD 5.0.2’s words, naming the device, from the VM’s own record', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-shares-live-'));
    try {
      const paths = vmPaths(dataDir, 'default', 'v1');
      mkdirSync(paths.runDir, { recursive: true });
      writeSharePlan(paths.runDir, plan);
      expect(readSharePlan(paths.runDir)).toEqual(plan);
      const { qmp, calls } = fakeQmp();
      const live = (devices: DeviceMap, record = plan) =>
        applyDiskChanges(record, hostDisksOf(devices), { qmp, record: () => {} });
      const devices = {
        root: ROOT,
        s: { type: 'disk', source: '/srv/link', path: '/mnt/s' },
      };
      await live(devices);
      const error = await live({
        ...devices,
        late: { type: 'disk', source: '/srv', path: '/l' },
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CONFLICT', field: 'devices["late"]' });
      expect((error as Error).message).toContain(
        'Cannot attach directory while instance is running',
      );
      // A VM started without a record (no shares) refuses a new one as well.
      await expect(live(devices, { disks: [] })).rejects.toThrow(/Cannot attach directory/);
      await live({ root: ROOT }, { disks: [] });
      expect(calls).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
