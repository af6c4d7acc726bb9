import { describe, expect, it } from 'vitest';
import { isEngineError } from '../../errors.ts';
import { IdmapSet } from '../../validation/index.ts';
import type { DriverInstance } from '../driver.ts';
import {
  cpusetFor,
  escapeMountField,
  memoryLimitBytes,
  renderLxcConfig,
  type LxcConfigInput,
  type ResolvedNic,
} from './lxc-config.ts';
import { containerPaths, lxcLayout } from './lxc-paths.ts';

const layout = lxcLayout('/var/lib/berth');
const paths = containerPaths(layout, 'default', 'c1');
const unprivileged = IdmapSet.fromSubid(
  [{ start: 1000000, size: 1000000000 }],
  [{ start: 1000000, size: 1000000000 }],
);
const GiB = 2 ** 30;

function input(
  config: Record<string, string> = {},
  devices: DriverInstance['expandedDevices'] = {},
  extra: Partial<LxcConfigInput> = {},
): LxcConfigInput {
  return {
    instance: {
      name: 'c1',
      expandedConfig: config,
      expandedDevices: { root: { type: 'disk', path: '/', pool: 'default' }, ...devices },
      paths: {
        dir: '/var/lib/berth/storage/default/containers/c1',
        rootfs: '/var/lib/berth/storage/default/containers/c1/rootfs',
      },
    },
    paths,
    hookScript: layout.hookScript,
    idmap: unprivileged,
    nics: [],
    host: { cpus: 4, memoryBytes: 8 * GiB },
    ...extra,
  };
}

/** The values of one key, in order. */
function values(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${key} = `))
    .map((line) => line.slice(key.length + 3));
}

function render(...args: Parameters<typeof input>): string {
  return renderLxcConfig(input(...args));
}

function errorOf(work: () => unknown): { code: string; message: string; field?: string } {
  try {
    work();
  } catch (error) {
    if (isEngineError(error)) return error;
    throw error;
  }
  throw new Error('expected an error');
}

describe('renderLxcConfig: the base', () => {
  const text = render();

  it.each([
    ['lxc.uts.name', ['c1']],
    ['lxc.rootfs.path', ['dir:/var/lib/berth/storage/default/containers/c1/rootfs']],
    ['lxc.init.cmd', ['/sbin/init']],
    ['lxc.signal.halt', ['SIGPWR']],
    ['lxc.signal.reboot', ['SIGTERM']],
    ['lxc.autodev', ['1']],
    ['lxc.log.file', ['/var/lib/berth/logs/default_c1/lxc.log']],
    ['lxc.console.logfile', ['/var/lib/berth/logs/default_c1/console.log']],
    ['lxc.hook.version', ['1']],
    ['lxc.hook.start-host', ['/var/lib/berth/lxc/berth-hook']],
    ['lxc.hook.stop', ['/var/lib/berth/lxc/berth-hook']],
    ['lxc.hook.post-stop', ['/var/lib/berth/lxc/berth-hook']],
    ['lxc.mount.auto', ['proc:mixed sys:mixed cgroup:mixed:force']],
    ['lxc.cgroup.devices.deny', ['a']],
  ])('%s', (key, expected) => {
    expect(values(text, key)).toEqual(expected);
  });

  it('puts the cgroups under per-engine parents', () => {
    expect(values(text, 'lxc.cgroup.dir.container')).toEqual([
      `berth-${layout.engineId}.payload/default_c1`,
    ]);
    expect(values(text, 'lxc.cgroup.dir.monitor')).toEqual([
      `berth-${layout.engineId}.monitor/default_c1`,
    ]);
    expect(layout.engineId).toMatch(/^[0-9a-f]{8}$/);
    expect(lxcLayout('/srv/other').engineId).not.toBe(layout.engineId);
  });

  it('allows the basic device nodes', () => {
    expect(values(text, 'lxc.cgroup.devices.allow')).toEqual(
      expect.arrayContaining(['c 1:3 rwm', 'c 5:2 rwm', 'c 136:* rwm']),
    );
  });

  it('has no limits, environment, NICs, disks or raw.lxc when none are asked for', () => {
    expect(text).not.toMatch(/^lxc\.(cgroup\.(memory|cpuset|pids)|environment|net\.)/m);
    expect(values(text, 'lxc.mount.entry')).toEqual(['shm dev/shm tmpfs defaults,create=dir 0 0']);
  });

  it('is stable', () => {
    expect(render()).toBe(text);
  });
});

describe('renderLxcConfig: id maps', () => {
  it('maps root to the subordinate range by default', () => {
    expect(values(render(), 'lxc.idmap')).toEqual(['u 0 1000000 65536', 'g 0 1000000 65536']);
  });

  it('writes no map for a privileged container', () => {
    expect(values(render({}, {}, { idmap: null }), 'lxc.idmap')).toEqual([]);
  });

  it('writes a map with raw.idmap punched in', () => {
    const map = unprivileged.withRawIdmap('both 2000000 1000');
    expect(values(render({}, {}, { idmap: map }), 'lxc.idmap')).toEqual([
      'u 0 1000000 1000',
      'u 1000 2000000 1',
      'u 1001 1001001 64535',
      'g 0 1000000 1000',
      'g 1000 2000000 1',
      'g 1001 1001001 64535',
    ]);
  });
});

describe('renderLxcConfig: limits', () => {
  it.each([
    ['2', '0-1'],
    ['1', '0'],
    ['0-0', '0'],
    ['1,3', '1,3'],
    ['0-2', '0,1,2'],
  ])('limits.cpu=%s pins %s', (value, cpus) => {
    expect(values(render({ 'limits.cpu': value }), 'lxc.cgroup.cpuset.cpus')).toEqual([cpus]);
  });

  it('does not pin a count at or above the host CPUs', () => {
    expect(values(render({ 'limits.cpu': '4' }), 'lxc.cgroup.cpuset.cpus')).toEqual([]);
    expect(values(render({ 'limits.cpu': '64' }), 'lxc.cgroup.cpuset.cpus')).toEqual([]);
  });

  it.each([
    ['128MiB', 134217728],
    ['1GB', 1e9],
    ['1073741824', GiB],
    ['50%', 4 * GiB],
    ['1%', Math.floor((8 * GiB) / 100)],
  ])('limits.memory=%s → %d bytes', (value, bytes) => {
    expect(values(render({ 'limits.memory': value }), 'lxc.cgroup.memory.limit_in_bytes')).toEqual([
      String(bytes),
    ]);
  });

  it('limits.processes → pids.max', () => {
    expect(values(render({ 'limits.processes': '200' }), 'lxc.cgroup.pids.max')).toEqual(['200']);
  });

  it.each([
    ['limits.cpu', 'two', 'config["limits.cpu"]'],
    ['limits.memory', 'lots', 'config["limits.memory"]'],
    ['limits.processes', '0', 'config["limits.processes"]'],
    ['limits.processes', '-5', 'config["limits.processes"]'],
  ])('refuses %s=%s naming the key', (key, value, field) => {
    expect(errorOf(() => render({ [key]: value }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field,
    });
  });

  it('helpers', () => {
    expect(cpusetFor('3', 2)).toBeUndefined();
    expect(memoryLimitBytes('25%', 1000)).toBe(250);
  });
});

describe('renderLxcConfig: environment, nesting, raw.lxc', () => {
  it('passes environment.* sorted, values verbatim', () => {
    const text = render({
      'environment.ZED': 'last',
      'environment.FOO': 'hello world',
      'user.x': 'no',
    });
    expect(values(text, 'lxc.environment')).toEqual(['FOO=hello world', 'ZED=last']);
  });

  it('refuses a value with a line break (it would add a key)', () => {
    const error = errorOf(() => render({ 'environment.FOO': 'a\nlxc.idmap = u 0 0 1' }));
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'config["environment.FOO"]' });
  });

  it('security.nesting mounts proc/sys/cgroup read-write and exposes the real /proc and /sys', () => {
    const text = render({ 'security.nesting': 'true' });
    expect(values(text, 'lxc.mount.auto')).toEqual(['proc:rw sys:rw cgroup:rw:force']);
    expect(values(text, 'lxc.mount.entry')).toContain(
      '/proc dev/.lxc/proc proc create=dir,optional 0 0',
    );
  });

  it('appends raw.lxc last', () => {
    const text = render({
      'raw.lxc': 'lxc.signal.halt = SIGRTMIN+3\n# comment\nlxc.cgroup.memory.limit_in_bytes=1',
    });
    const lines = text.trim().split('\n');
    expect(lines.slice(-2)).toEqual([
      'lxc.signal.halt = SIGRTMIN+3',
      'lxc.cgroup.memory.limit_in_bytes = 1',
    ]);
  });

  it('refuses lxc.idmap in raw.lxc for an unprivileged container, allows it privileged', () => {
    expect(errorOf(() => render({ 'raw.lxc': 'lxc.idmap = u 0 0 1' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      field: 'config["raw.lxc"]',
    });
    expect(
      values(render({ 'raw.lxc': 'lxc.idmap = u 0 0 1' }, {}, { idmap: null }), 'lxc.idmap'),
    ).toEqual(['u 0 0 1']);
  });

  it('refuses raw.lxc taking over logging', () => {
    expect(errorOf(() => render({ 'raw.lxc': 'lxc.log.file = /tmp/x' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('renderLxcConfig: NICs', () => {
  const nic: ResolvedNic = {
    device: 'eth0',
    name: 'eth0',
    bridge: 'berthbr0',
    hostName: 'vb0123456789a',
    hwaddr: '02:16:3e:00:00:01',
  };

  it('writes a veth on the bridge with the MAC and host name', () => {
    const text = render(
      {},
      {},
      { nics: [nic, { device: 'eth1', name: 'eth1', bridge: 'br1', hostName: 'vbx', mtu: 1400 }] },
    );
    expect(values(text, 'lxc.net.0.type')).toEqual(['veth']);
    expect(values(text, 'lxc.net.0.link')).toEqual(['berthbr0']);
    expect(values(text, 'lxc.net.0.name')).toEqual(['eth0']);
    expect(values(text, 'lxc.net.0.flags')).toEqual(['up']);
    expect(values(text, 'lxc.net.0.veth.pair')).toEqual(['vb0123456789a']);
    expect(values(text, 'lxc.net.0.hwaddr')).toEqual(['02:16:3e:00:00:01']);
    expect(values(text, 'lxc.net.1.link')).toEqual(['br1']);
    expect(values(text, 'lxc.net.1.mtu')).toEqual(['1400']);
    expect(values(text, 'lxc.net.1.hwaddr')).toEqual([]);
  });
});

describe('renderLxcConfig: disks', () => {
  it('bind-mounts host paths, read-only and files when asked', () => {
    const text = render(
      {},
      {
        data: { type: 'disk', source: '/srv/data', path: '/mnt/data' },
        ro: { type: 'disk', source: '/srv/ro', path: '/opt/ro/', readonly: 'true' },
        file: { type: 'disk', source: '/etc/host.conf', path: '/etc/host.conf' },
        opt: {
          type: 'disk',
          source: '/srv/maybe',
          path: '/maybe',
          required: 'false',
          recursive: 'true',
        },
        spaced: { type: 'disk', source: '/srv/my data', path: '/my data' },
      },
      { isDirectory: (source) => source !== '/etc/host.conf' },
    );
    expect(values(text, 'lxc.mount.entry').slice(1)).toEqual([
      '/srv/data mnt/data none bind,create=dir 0 0',
      '/etc/host.conf etc/host.conf none bind,create=file 0 0',
      '/srv/maybe maybe none rbind,create=dir,optional 0 0',
      '/srv/ro opt/ro none bind,create=dir,ro 0 0',
      '/srv/my\\040data my\\040data none bind,create=dir 0 0',
    ]);
  });

  it('mounts a custom volume at the folder the driver resolved, and leaves it out at create', () => {
    const v = { type: 'disk', source: 'vol1', pool: 'default', path: '/mnt/v', readonly: 'true' };
    const volumeSources = new Map([['v', '/pool/custom/default_vol1']]);
    expect(values(render({}, { v }, { volumeSources }), 'lxc.mount.entry').slice(1)).toEqual([
      '/pool/custom/default_vol1 mnt/v none bind,create=dir,ro 0 0',
    ]);
    // At create nothing is resolved yet: the start's config has it.
    expect(render({}, { v })).toBe(render());
    expect(errorOf(() => render({}, { v }, { volumeSources: new Map() }))).toMatchObject({
      code: 'INTERNAL',
    });
  });

  it('refuses what it cannot mount', () => {
    expect(
      errorOf(() => render({}, { v: { type: 'disk', source: '/srv', path: '/a/../../etc' } })),
    ).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(
      errorOf(() => render({}, { r2: { type: 'disk', path: '/', pool: 'other' } })),
    ).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses proxy options the forwarder cannot honour, naming the key; ignores none', () => {
    const web = { type: 'proxy', listen: 'tcp:127.0.0.1:8080', connect: 'tcp:127.0.0.1:80' };
    // A proxy is a process, not config: the text does not change.
    expect(render({}, { web })).toBe(render());
    expect(errorOf(() => render({}, { web: { ...web, nat: 'true' } }))).toMatchObject({
      code: 'NOT_IMPLEMENTED',
      message: expect.stringContaining('devices["web"]["nat"]'),
    });
    expect(errorOf(() => render({}, { web: { ...web, bind: 'instance' } }))).toMatchObject({
      code: 'NOT_IMPLEMENTED',
      message: expect.stringContaining('devices["web"]["bind"]'),
    });
    expect(render({}, { nothing: { type: 'none' } })).toBe(render());
  });

  it('allows and bind-mounts unix-char nodes', () => {
    const text = render(
      {},
      { z: { type: 'unix-char', source: '/dev/zero', path: '/dev/berthzero' } },
      {
        unixDevices: [
          { device: 'z', path: '/dev/berthzero', node: '/x/devices/unix.z', major: 1, minor: 5 },
        ],
      },
    );
    expect(values(text, 'lxc.cgroup.devices.allow').at(-1)).toBe('c 1:5 rwm');
    expect(values(text, 'lxc.mount.entry').at(-1)).toBe(
      '/x/devices/unix.z dev/berthzero none bind,create=file 0 0',
    );
  });

  it('escapes fstab fields', () => {
    expect(escapeMountField('a b\tc\\d')).toBe('a\\040b\\011c\\134d');
  });
});
