import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmPaths } from './qemu-paths.ts';
import {
  ShareKeeper,
  guestMountArgv,
  hostDisksOf,
  blockIds,
  liveShareChange,
  liveShareError,
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

  it('refuses attaching or detaching a volume disk on a running VM, saying it is a disk', async () => {
    const plan = await planShares(
      { root: ROOT, data: { type: 'disk', pool: 'default', source: 'blk' } },
      attach,
    );
    const same = async (now: string, planned: { source: string }) => now === planned.source;
    const change = await liveShareChange(plan, [], same);
    expect(change).toEqual({ device: 'data', kind: 'detach', disk: true });
    expect(liveShareError(change!).message).toContain(
      'Cannot detach disk while instance is running',
    );
    expect(
      await liveShareChange(
        plan,
        [{ device: 'data', source: 'blk', pool: 'other', readonly: false, required: true }],
        same,
      ),
    ).toMatchObject({ kind: 'update' });
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
    expect(await liveShareChange(plan, [spec], same)).toBeUndefined();
    expect(await liveShareChange(plan, [], same)).toEqual({ device: 's', kind: 'detach' });
    expect(
      await liveShareChange(plan, [spec, { ...spec, device: 'late', path: '/mnt/late' }], same),
    ).toEqual({ device: 'late', kind: 'attach' });
    expect(await liveShareChange(plan, [{ ...spec, readonly: true }], same)).toEqual({
      device: 's',
      kind: 'update',
    });
    expect(await liveShareChange(plan, [{ ...spec, source: '/srv/other' }], same)).toEqual({
      device: 's',
      kind: 'update',
    });
  });

  it('answers in LXD 5.0.2’s words, naming the device, from the VM’s own record', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-shares-live-'));
    try {
      const paths = vmPaths(dataDir, 'default', 'v1');
      mkdirSync(paths.runDir, { recursive: true });
      writeSharePlan(paths.runDir, plan);
      expect(readSharePlan(paths.runDir)).toEqual(plan);
      const keeper = new ShareKeeper({
        agent: () => Promise.reject(new Error('unused')),
        pid: () => 0,
      });
      const devices = {
        root: ROOT,
        s: { type: 'disk', source: '/srv/link', path: '/mnt/s' },
      };
      await keeper.checkLive(paths, devices);
      const error = await keeper
        .checkLive(paths, { ...devices, late: { type: 'disk', source: '/srv', path: '/l' } })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CONFLICT', field: 'devices["late"]' });
      expect((error as Error).message).toContain(
        'Cannot attach directory while instance is running',
      );
      // A VM started without a record (no shares) refuses a new one as well.
      const bare = vmPaths(dataDir, 'default', 'v2');
      await expect(keeper.checkLive(bare, devices)).rejects.toThrow(/Cannot attach directory/);
      await keeper.checkLive(bare, { root: ROOT });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
