// Host directories in a VM (disk devices with a host `source` and a `path`),
// against a real QEMU (TCG) and the engine's own busybox VM image: shares
// set at start appear in the guest at their path through 9p, mounted by the
// engine through qemu-guest-agent; files go both ways with the guest's root
// as the host's root; `readonly=true` holds even when the guest remounts;
// symlinks in the share resolve in the guest, never to the host's files; a
// running VM refuses to gain, lose or change a share (LXD 5.0.2's words) and
// takes the change at its next start; a reboot inside the guest gets its
// mounts back; what the host cannot share is refused before QEMU starts; a
// failed guest mount is written down; a restricted project refuses host
// paths for VMs as for containers. Every QEMU is stopped by its own pid; no
// timing assertions.
import { randomBytes } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmPaths } from '../../src/drivers/qemu/qemu-paths.ts';
import { readSharePlan, SHARE_LOG_FILE } from '../../src/drivers/qemu/vm-shares.ts';
import type { DeviceMap } from '../../src/schemas/index.ts';
import { errorOf, startTestEngine, testBridgeName, waitFor, type TestEngine } from './helpers.ts';
import {
  BOOT_WAIT_MS,
  agentAnswers,
  qemuPid,
  requireQemu,
  succeeded,
  tearDownVmTest,
} from './vm-helpers.ts';

const project = 'default';
const vm = `vm${randomBytes(3).toString('hex')}`;
const alias = `busybox-vm-${randomBytes(2).toString('hex')}`;
const bridge = testBridgeName();

let t: TestEngine | undefined;
let dataDir = '';
let work = '';
const dir = (name: string) => path.join(work, name);

const engine = () => {
  if (!t) throw new Error('no engine');
  return t.engine;
};

async function guest(command: string[]) {
  return engine().instances.exec(project, vm, { command });
}

async function guestMounts(): Promise<string> {
  return (await guest(['cat', '/proc/mounts'])).stdout;
}

/** shares.log, where the engine says what became of each share. */
function sharesLog(): string {
  try {
    return readFileSync(path.join(vmPaths(dataDir, project, vm).logDir, SHARE_LOG_FILE), 'utf8');
  } catch {
    return '';
  }
}

async function waitForLog(lines: string[]): Promise<string> {
  return waitFor(
    `shares.log of ${vm} to report ${lines.join(', ')}`,
    async () => sharesLog(),
    (log) => lines.every((line) => log.includes(line)),
    BOOT_WAIT_MS,
  );
}

/** PUT the VM's devices (its local config stays). */
async function setDevices(devices: DeviceMap) {
  const current = await engine().instances.get(project, vm);
  const config = Object.fromEntries(
    Object.entries(current.config).filter(([key]) => !key.startsWith('volatile.')),
  );
  return engine().instances.update(project, vm, {
    config,
    devices,
    profiles: current.profiles,
  });
}

const disk = (source: string, at: string, extra: Record<string, string> = {}) => ({
  type: 'disk',
  source,
  path: at,
  ...extra,
});

describe('host directories shared into a VM (real QEMU, 9p)', () => {
  beforeAll(async () => {
    await requireQemu();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-shares-'));
    work = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-shares-work-'));
    for (const name of ['share', 'ro', 'late', 'secret', 'allowed'])
      mkdirSync(dir(name), { recursive: true });
    writeFileSync(path.join(dir('ro'), 'readme.txt'), 'read me\n');
    writeFileSync(path.join(dir('late'), 'late.txt'), 'came later\n');
    writeFileSync(path.join(dir('secret'), 'secret.txt'), 'host secret\n');
    writeFileSync(dir('disk.img'), 'not a directory');
    // Symlinks inside the share that lead out of it on the host.
    symlinkSync(dir('secret'), path.join(dir('share'), 'escape'));
    symlinkSync('/etc', path.join(dir('share'), 'etc'));
    symlinkSync('/etc', path.join(dir('allowed'), 'to-etc'));
    t = await startTestEngine(dataDir, { network: bridge });
  }, 60_000);

  afterAll(async () => {
    await tearDownVmTest(t, { dataDir, project, vms: [vm], bridge, dirs: [dataDir, work] });
  }, 120_000);

  it('builds the busybox VM image', async () => {
    await succeeded(engine(), engine().images.buildBusyboxVm(project, { alias }));
  }, 600_000);

  // The driver's error codes (NOT_IMPLEMENTED, INVALID_ARGUMENT) are in vm-shares.test.ts;
  // a start that fails is a failed operation, whose message is what `lxc start` prints.
  it('refuses to start with what the host cannot share, before QEMU runs', async () => {
    await engine().instances.createAndWait(project, {
      name: vm,
      type: 'virtual-machine',
      source: { type: 'image', alias },
      config: { 'limits.memory': '256MiB' },
    });
    for (const [device, message] of [
      [
        { type: 'disk', source: dir('disk.img') },
        `devices["bad"]["source"]: "${dir('disk.img')}" is not a directory: a host file or block device as a VM disk is not supported by Berth yet`,
      ],
      [
        disk(dir('disk.img'), '/mnt/img'),
        'devices["bad"]["path"]: File mounting to filesystem paths is not supported for virtual machines',
      ],
      [
        disk(dir('missing'), '/mnt/missing'),
        `devices["bad"]["source"]: Missing source path "${dir('missing')}" for disk "bad"`,
      ],
    ] as const) {
      await setDevices({ bad: device });
      const op = await engine().instances.changeState(project, vm, { action: 'start' });
      const done = await engine().operations.wait(op.id);
      expect(done.status).toBe('Failure');
      expect(done.err).toContain(message);
      expect((await engine().instances.get(project, vm)).status).toBe('Stopped');
      expect(qemuPid(dataDir, project, vm)).toBe(0);
    }
  }, 120_000);

  it(
    'mounts shares at their paths after start; files go both ways, guest root as host root',
    async () => {
      await setDevices({
        share: disk(dir('share'), '/mnt/share'),
        ro: disk(dir('ro'), '/srv/ro', { readonly: 'true' }),
        // A file in the guest: the mount cannot be made, and that is said.
        clash: disk(dir('late'), '/etc/os-release'),
      });
      await engine().instances.changeStateAndWait(project, vm, { action: 'start' });
      await agentAnswers(engine(), project, vm);
      const log = await waitForLog([
        'disk "share": mounted',
        'disk "ro": mounted',
        'disk "clash": FAILED to mount',
      ]);
      expect(log).toContain(`${dir('share')} at /mnt/share (9p tag berth_share, read-write)`);
      expect(log).toContain(`${dir('ro')} at /srv/ro (9p tag berth_ro, read-only)`);
      expect(log).toMatch(/disk "clash": FAILED to mount .*File exists/);
      const plan = readSharePlan(vmPaths(dataDir, project, vm).runDir);
      expect(plan?.disks.find((d) => d.device === 'clash')).toMatchObject({
        kind: 'share',
        mount: { failed: expect.stringContaining('File exists') },
      });

      const mounts = await guestMounts();
      expect(mounts).toMatch(/^berth_share \/mnt\/share 9p rw,/m);
      expect(mounts).toMatch(/^berth_ro \/srv\/ro 9p ro,/m);
      expect(mounts).not.toContain('/etc/os-release 9p');

      // Host → guest.
      writeFileSync(path.join(dir('share'), 'from-host.txt'), 'written on the host\n');
      expect((await guest(['cat', '/mnt/share/from-host.txt'])).stdout).toBe(
        'written on the host\n',
      );
      // Guest → host: the guest's root creates root's files; a uid stays that uid.
      const wrote = await guest([
        'sh',
        '-c',
        'echo written in the guest > /mnt/share/from-guest.txt && ' +
          'echo user > /mnt/share/user.txt && chown 1000:1000 /mnt/share/user.txt',
      ]);
      expect(wrote.exitCode).toBe(0);
      expect(readFileSync(path.join(dir('share'), 'from-guest.txt'), 'utf8')).toBe(
        'written in the guest\n',
      );
      expect(statSync(path.join(dir('share'), 'from-guest.txt'))).toMatchObject({ uid: 0, gid: 0 });
      expect(statSync(path.join(dir('share'), 'user.txt'))).toMatchObject({ uid: 1000, gid: 1000 });
    },
    BOOT_WAIT_MS + 120_000,
  );

  it('keeps a readonly share read-only on the host, even when the guest remounts it', async () => {
    expect((await guest(['cat', '/srv/ro/readme.txt'])).stdout).toBe('read me\n');
    const touch = await guest(['touch', '/srv/ro/new.txt']);
    expect(touch.exitCode).not.toBe(0);
    expect(touch.stderr).toContain('Read-only file system');
    // The guest's root may remount it rw; QEMU still refuses the write.
    const forced = await guest([
      'sh',
      '-c',
      'mount -o remount,rw /srv/ro 2>/dev/null; echo x > /srv/ro/new.txt',
    ]);
    expect(forced.exitCode).not.toBe(0);
    expect(forced.stderr).toContain('Read-only file system');
    expect(await guestMounts()).toMatch(/^berth_ro \/srv\/ro 9p rw,/m);
    expect(existsSync(path.join(dir('ro'), 'new.txt'))).toBe(false);
    expect((await guest(['mount', '-o', 'remount,ro', '/srv/ro'])).exitCode).toBe(0);
  }, 120_000);

  it('resolves symlinks in the share inside the guest, never to the host’s files', async () => {
    // A symlink to a host folder outside the share: the guest has no such folder.
    const escape = await guest(['cat', '/mnt/share/escape/secret.txt']);
    expect(escape.exitCode).not.toBe(0);
    expect(escape.stdout).not.toContain('host secret');
    // share/etc -> /etc is the guest's /etc: its os-release, not the host's; no host shadow.
    expect((await guest(['readlink', '/mnt/share/etc'])).stdout).toBe('/etc\n');
    expect((await guest(['cat', '/mnt/share/etc/os-release'])).stdout).toContain('ID=berth-tiny');
    const hostShadow = readFileSync('/etc/shadow', 'utf8').split('\n')[0] ?? '';
    expect(hostShadow).toMatch(/^root:/);
    const shadow = await guest(['sh', '-c', 'cat /mnt/share/etc/shadow 2>&1']);
    expect(shadow.stdout).not.toContain(hostShadow);
    // A symlink the guest makes is a symlink on the host, read back in the guest's world.
    expect((await guest(['ln', '-s', '/etc/shadow', '/mnt/share/guest-link'])).exitCode).toBe(0);
    expect(lstatSync(path.join(dir('share'), 'guest-link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path.join(dir('share'), 'guest-link'))).toBe('/etc/shadow');
    const through = await guest(['sh', '-c', 'cat /mnt/share/guest-link 2>&1']);
    expect(through.stdout).not.toContain(hostShadow);
  }, 120_000);

  it('refuses to attach, detach or change a share on the running VM, keeping it as it was', async () => {
    const before = await engine().instances.get(project, vm);
    const attach = await errorOf(
      engine().instances.patch(project, vm, {
        devices: { late: disk(dir('late'), '/mnt/late') },
      }),
    );
    expect(attach).toMatchObject({ code: 'CONFLICT', field: 'devices["late"]' });
    expect(attach.message).toContain('Cannot attach directory while instance is running');
    const { ro: _ro, ...withoutRo } = before.devices;
    const detach = await errorOf(setDevices(withoutRo));
    expect(detach).toMatchObject({ code: 'CONFLICT', field: 'devices["ro"]' });
    expect(detach.message).toContain('Cannot detach directory while instance is running');
    const change = await errorOf(
      engine().instances.patch(project, vm, {
        devices: { share: disk(dir('share'), '/mnt/share', { readonly: 'true' }) },
      }),
    );
    expect(change).toMatchObject({ code: 'CONFLICT', field: 'devices["share"]' });
    expect(change.message).toContain('Cannot update directory while instance is running');

    expect((await engine().instances.get(project, vm)).devices).toEqual(before.devices);
    const mounts = await guestMounts();
    expect(mounts).not.toContain('/mnt/late');
    expect(mounts).toMatch(/^berth_ro \/srv\/ro 9p ro,/m);
    expect(mounts).toMatch(/^berth_share \/mnt\/share 9p rw,/m);
  }, 120_000);

  it(
    'takes added and removed shares at the next start',
    async () => {
      await engine().instances.changeStateAndWait(project, vm, { action: 'stop', timeout: 60 });
      expect(qemuPid(dataDir, project, vm)).toBe(0);
      await setDevices({
        share: disk(dir('share'), '/mnt/share'),
        late: disk(dir('late'), '/mnt/late', { readonly: 'true' }),
        gone: disk(dir('missing'), '/mnt/gone', { required: 'false' }),
      });
      await engine().instances.changeStateAndWait(project, vm, { action: 'start' });
      await agentAnswers(engine(), project, vm);
      const log = await waitForLog(['disk "share": mounted', 'disk "late": mounted']);
      expect(log).toContain(`disk "gone": skipped: source "${dir('missing')}" does not exist`);
      expect(log).not.toContain('disk "ro"');
      const mounts = await guestMounts();
      expect(mounts).toMatch(/^berth_late \/mnt\/late 9p ro,/m);
      expect(mounts).not.toContain('/srv/ro');
      expect(mounts).not.toContain('/mnt/gone');
      expect((await guest(['cat', '/mnt/late/late.txt'])).stdout).toBe('came later\n');
      // What the guest wrote before is on the host, and back in the guest.
      expect((await guest(['cat', '/mnt/share/from-guest.txt'])).stdout).toBe(
        'written in the guest\n',
      );

      // A reboot inside the guest (QEMU resets in place) loses the mounts; they are made again.
      const reboot = await guest(['sh', '-c', '(sleep 1; reboot) >/dev/null 2>&1 &']);
      expect(reboot.exitCode).toBe(0);
      await waitFor(
        'the shares mounted again after the guest rebooted',
        async () => sharesLog().split('disk "late": mounted').length - 1,
        (count) => count >= 2,
        BOOT_WAIT_MS,
      );
      await agentAnswers(engine(), project, vm);
      expect(await guestMounts()).toMatch(/^berth_late \/mnt\/late 9p ro,/m);
      expect((await guest(['cat', '/mnt/late/late.txt'])).stdout).toBe('came later\n');

      await engine().instances.changeStateAndWait(project, vm, { action: 'stop', timeout: 60 });
      expect(qemuPid(dataDir, project, vm)).toBe(0);
      await engine().instances.delete(project, vm);
      // The host's folders are the user's: nothing of them went with the VM.
      expect(readFileSync(path.join(dir('share'), 'from-host.txt'), 'utf8')).toBe(
        'written on the host\n',
      );
    },
    2 * BOOT_WAIT_MS + 180_000,
  );

  it('refuses host paths for a VM in a restricted project as for a container', async () => {
    const p = `shares${randomBytes(3).toString('hex')}`;
    await engine().projects.create({
      name: p,
      config: {
        restricted: 'true',
        'restricted.devices.disk': 'allow',
        'restricted.devices.disk.paths': dir('allowed'),
      },
    });
    await engine().profiles.patch(p, 'default', {
      devices: { root: { type: 'disk', path: '/', pool: 'default' } },
    });
    for (const [source, resolved] of [
      [dir('share'), dir('share')],
      [path.join(dir('allowed'), 'to-etc'), '/etc'],
    ] as const) {
      const error = await errorOf(
        engine().instances.create(p, {
          name: `vm${randomBytes(3).toString('hex')}`,
          type: 'virtual-machine',
          devices: { data: disk(source, '/mnt/data') },
        }),
      );
      expect(error).toMatchObject({ code: 'FORBIDDEN', field: 'devices["data"]["source"]' });
      expect(error.message).toContain(`"${resolved}"`);
    }
    expect(await engine().instances.names(p)).toEqual([]);
    await engine().projects.delete(p);
  }, 60_000);
});
