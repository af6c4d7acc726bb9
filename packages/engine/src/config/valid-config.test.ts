import { describe, expect, it } from 'vitest';
import { isEngineError } from '../errors';
import reference from '../../test/fixtures/lxd-5.0.2/validation.json';
import {
  configKeyHints,
  configProblems,
  restrictedKeysIn,
  validConfig,
  type ValidConfigOptions,
} from './valid-config';

const INSTANCE: ValidConfigOptions = {
  profile: false,
  expanded: false,
  allowVolatile: false,
  instanceType: 'container',
};
const VM: ValidConfigOptions = { ...INSTANCE, instanceType: 'virtual-machine' };
const PROFILE: ValidConfigOptions = { profile: true, expanded: false, allowVolatile: false };
const ENGINE: ValidConfigOptions = { ...INSTANCE, allowVolatile: true };

function problemOf(
  config: Record<string, string>,
  options: ValidConfigOptions = INSTANCE,
): string | undefined {
  try {
    validConfig(config, options);
    return undefined;
  } catch (error) {
    if (!isEngineError(error, 'INVALID_ARGUMENT')) throw error;
    return error.message;
  }
}

interface ReferenceEntry {
  key: string;
  value: string;
  accepted: boolean;
  error: string;
}

/**
 * Where LXD 5.0.2's answer is plainly wrong (or Berth's design differs) we
 * are stricter; each entry says why and what we answer instead.
 */
const STRICTER: Record<string, { why: string; reason: string }> = {
  'limits.cpu=1-0': {
    why: 'a reversed range names no CPU; LXD accepts it and pins the instance to nothing',
    reason: 'Invalid CPU range "1-0": start is greater than end',
  },
  'limits.cpu=0': {
    why: 'a plain number is a CPU count, and an instance cannot run on zero CPUs (pin CPU 0 with "0-0")',
    reason: 'A CPU count must be at least 1',
  },
  'limits.memory=101%': {
    why: "a share of the host's memory cannot exceed 100%",
    reason: 'Memory limit must be between 1% and 100%',
  },
  'volatile.eth0.hwaddr=00:16:3e:00:00:01': {
    why: 'volatile.* keys are engine-owned in Berth; only the engine (allowVolatile) may write them',
    reason: 'Volatile keys are written by Berth itself and cannot be set',
  },
};

describe('validConfig against LXD 5.0.2 (shared/reference/lxd-5.0.2/validation.json)', () => {
  const entries = (reference as { instance_config: ReferenceEntry[] }).instance_config;

  it('covers the reference file', () => {
    expect(entries.length).toBeGreaterThan(80);
    // Every stricter case is in the reference, so none is stale.
    for (const id of Object.keys(STRICTER)) {
      expect(entries.some((entry) => `${entry.key}=${entry.value}` === id)).toBe(true);
    }
  });

  it.each(entries.map((entry) => [`${entry.key}=${JSON.stringify(entry.value)}`, entry]))(
    '%s',
    (_, entry) => {
      const problem = problemOf({ [entry.key]: entry.value });
      const stricter = STRICTER[`${entry.key}=${entry.value}`];
      if (stricter !== undefined) {
        expect(entry.accepted, 'LXD accepted it; we refuse').toBe(true);
        expect(problem).toContain(`config[${JSON.stringify(entry.key)}]: `);
        expect(problem).toContain(stricter.reason);
        return;
      }
      if (entry.accepted) {
        expect(problem).toBeUndefined();
        return;
      }
      // LXD wraps the validator's reason; ours names the key, then gives the same reason.
      const lxdReason = entry.error
        .replace(/^Invalid config: /, '')
        .replace(/^Failed to get ID map: /, '');
      expect(problem).toMatch(
        new RegExp(`^config\\[${JSON.stringify(entry.key).replace(/[.[\]]/g, '\\$&')}\\]: `),
      );
      expect(problem).toContain(lxdReason);
    },
  );

  it('accepts the volatile key LXD accepted when the engine writes it', () => {
    expect(problemOf({ 'volatile.eth0.hwaddr': '00:16:3e:00:00:01' }, ENGINE)).toBeUndefined();
  });
});

describe('validConfig', () => {
  it.each([
    [{}],
    [{ 'limits.cpu': '2', 'limits.memory': '512MiB', 'limits.processes': '500' }],
    [
      {
        'boot.autostart': 'true',
        'boot.autostart.delay': '5',
        'boot.autostart.priority': '-3',
        'boot.stop.priority': '1',
      },
    ],
    [
      {
        'environment.PATH': '/usr/bin',
        'environment.EMPTY': '',
        'user.note': 'hi',
        'image.os': 'Debian',
      },
    ],
    [
      {
        'raw.lxc': 'lxc.apparmor.profile = unconfined',
        'raw.idmap': 'both 1000 1000\nuid 2000-2001 3000-3001',
      },
    ],
    [{ 'security.privileged': 'true', 'security.nesting': 'true' }],
    [
      {
        'security.idmap.isolated': 'true',
        'security.idmap.base': '1000000',
        'security.idmap.size': '65536',
      },
    ],
    [
      {
        'snapshots.schedule': '@daily, 0 */6 * * *',
        'snapshots.schedule.stopped': 'false',
        'snapshots.expiry': '2w',
        'snapshots.pattern': 'auto-%d',
      },
    ],
    [
      {
        'cloud-init.user-data': '#cloud-config\npackages:\n  - vim\n',
        'cloud-init.vendor-data': '#!/bin/sh\necho hi',
      },
    ],
    [
      {
        'cloud-init.network-config': 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n',
        'user.user-data': '#cloud-config',
      },
    ],
  ])('accepts %j on a container', (config) => {
    expect(problemOf(config)).toBeUndefined();
  });

  it.each([
    [{ 'limits.bogus': '1' }, 'config["limits.bogus"]: Unknown configuration key: limits.bogus'],
    [{ 'security.syscalls.deny': 'x' }, 'Unknown configuration key: security.syscalls.deny'],
    [{ limits: '1' }, 'Unknown configuration key: limits'],
    [{ 'environment.': 'x' }, 'config["environment."]: "environment." requires a subkey'],
    [{ 'user.': 'x' }, '"user." requires a subkey'],
    [{ 'environment.A=B': 'x' }, 'Environment variable names cannot contain "="'],
    [{ 'environment.X': 'a\0b' }, 'NUL byte'],
    [
      { 'environment.X': 'a\nlxc.apparmor.profile = unconfined' },
      'config["environment.X"]: Environment values cannot contain a line break',
    ],
    [
      { 'environment.X': 'a\rb' },
      'config["environment.X"]: Environment values cannot contain a line break',
    ],
    [
      { 'environment.A\nlxc.mount.entry': 'x' },
      'config["environment.A\\nlxc.mount.entry"]: Environment variable names cannot contain control characters',
    ],
    [{ 'environment.A B': 'x' }, 'Environment variable names cannot contain whitespace'],
    [
      { 'raw.qemu': '-m 1G' },
      'config["raw.qemu"]: Configuration key "raw.qemu" only applies to virtual machines',
    ],
    [{ 'limits.memory': '0%' }, `config["limits.memory"]: Memory limit can't be 0%`],
    [{ 'boot.autostart.delay': '1.5' }, 'Invalid value for an integer "1.5"'],
    [
      { 'security.idmap.size': '-1' },
      'config["security.idmap.size"]: Invalid value for uint32 "-1"',
    ],
    [
      { 'raw.lxc': 'lxc.logfile = /tmp/x' },
      'config["raw.lxc"]: line 1: Setting lxc.logfile is not allowed',
    ],
    [{ 'raw.lxc': 'nonsense' }, 'Invalid raw.lxc line: nonsense'],
    [{ 'raw.idmap': 'uid 1000-1001 1000' }, 'The ID map ranges are of different sizes'],
    [
      { 'snapshots.pattern': 'snap/%d' },
      'config["snapshots.pattern"]: Snapshot names cannot contain "/"',
    ],
    [{ 'snapshots.pattern': 'snap %d' }, 'Snapshot names cannot contain " "'],
    [{ 'snapshots.expiry': '1d 1d' }, 'Invalid expiry expression'],
    [
      { 'cloud-init.user-data': '#cloud-config\n\tpackages: []' },
      'YAML forbids tabs for indentation (line 2)',
    ],
    [{ 'cloud-init.network-config': 'version: 2\n\tethernets: {}' }, 'YAML forbids tabs'],
  ])('refuses %j', (config, message) => {
    expect(problemOf(config)).toContain(message);
  });

  it('refuses a line break in an environment key or value in a profile too', () => {
    expect(problemOf({ 'environment.X': 'a\nb' }, PROFILE)).toBe(
      'config["environment.X"]: Environment values cannot contain a line break',
    );
    expect(problemOf({ 'environment.A\rB': 'x' }, PROFILE)).toContain('control characters');
  });

  it('refuses security.idmap.isolated together with security.privileged (LXD ignores isolated there)', () => {
    const config = { 'security.privileged': 'true', 'security.idmap.isolated': 'yes' };
    expect(problemOf(config)).toBe(
      'config["security.idmap.isolated"]: Cannot be used with security.privileged=true: a privileged container has no ID map to isolate',
    );
    expect(problemOf(config, { ...INSTANCE, expanded: true })).toContain('no ID map to isolate');
    expect(problemOf(config, PROFILE)).toContain('no ID map to isolate');
    expect(
      problemOf({ 'security.privileged': 'true', 'security.idmap.isolated': 'false' }),
    ).toBeUndefined();
  });

  describe('instance types', () => {
    it('refuses container-only keys on a VM and VM-only keys on a container (local config)', () => {
      expect(problemOf({ 'security.privileged': 'true' }, VM)).toContain(
        'only applies to containers',
      );
      expect(problemOf({ 'raw.lxc': 'lxc.a = b' }, VM)).toContain('only applies to containers');
      expect(problemOf({ 'limits.processes': '10' }, VM)).toContain('only applies to containers');
      expect(problemOf({ 'raw.qemu': '-S' }, VM)).toBeUndefined();
      expect(problemOf({ 'raw.qemu': '-S' }, INSTANCE)).toContain(
        'only applies to virtual machines',
      );
    });

    it("ignores the other type's keys in expanded config, since a profile may serve both types", () => {
      const expanded = { 'security.nesting': 'true', 'raw.qemu': '-S', 'limits.cpu': '2' };
      expect(problemOf(expanded, { ...VM, expanded: true })).toBeUndefined();
      expect(problemOf(expanded, { ...INSTANCE, expanded: true })).toBeUndefined();
      // ...but still validates the keys that apply.
      expect(problemOf({ ...expanded, 'limits.cpu': 'x' }, { ...VM, expanded: true })).toContain(
        'limits.cpu',
      );
    });

    it('lets a profile use keys of both types', () => {
      expect(
        problemOf(
          { 'security.privileged': 'true', 'raw.qemu': '-S', 'raw.lxc': 'lxc.a = b' },
          PROFILE,
        ),
      ).toBeUndefined();
      expect(problemOf({ 'security.privileged': 'perhaps' }, PROFILE)).toContain(
        'Invalid value for a boolean',
      );
    });
  });

  describe('volatile and image keys', () => {
    it('refuses volatile.* and image.* in profiles, as LXD', () => {
      expect(problemOf({ 'volatile.base_image': 'abc' }, PROFILE)).toBe(
        'config["volatile.base_image"]: Volatile keys can only be set on instances',
      );
      expect(problemOf({ 'image.os': 'Debian' }, PROFILE)).toBe(
        'config["image.os"]: Image keys can only be set on instances',
      );
    });

    it('refuses volatile.* from users, accepts it from the engine', () => {
      const config = {
        'volatile.base_image': 'f00d',
        'volatile.last_state.power': 'RUNNING',
        'volatile.idmap.base': '1000000',
        'volatile.idmap.current': '[]',
        'volatile.idmap.next': '[]',
        'volatile.eth0.hwaddr': '00:16:3e:12:34:56',
        'volatile.eth0.name': 'eth0',
        'volatile.eth0.host_name': 'veth1234',
        'volatile.uuid': '0f9a3b26-5c9d-4f43-9b5e-2f3f8a0d5b11',
        'volatile.apply_template': 'create',
      };
      expect(problemOf(config)).toContain('Volatile keys are written by Berth itself');
      expect(problemOf(config, ENGINE)).toBeUndefined();
    });

    it('still validates and names volatile keys the engine writes', () => {
      expect(problemOf({ 'volatile.eth0.hwaddr': 'nope' }, ENGINE)).toBe(
        'config["volatile.eth0.hwaddr"]: Invalid MAC address, must be 6 bytes of hex separated by colons',
      );
      expect(problemOf({ 'volatile.uuid': 'x' }, ENGINE)).toBe(
        'config["volatile.uuid"]: Invalid UUID',
      );
      expect(problemOf({ 'volatile.bogus': 'x' }, ENGINE)).toBe(
        'config["volatile.bogus"]: Unknown configuration key: volatile.bogus',
      );
      expect(
        problemOf({ 'volatile.idmap.base': '1' }, { ...ENGINE, instanceType: 'virtual-machine' }),
      ).toContain('only applies to containers');
    });
  });

  it('reports every problem, sorted by key; validConfig throws the first with its field', () => {
    const config = { 'z.unknown': '1', 'limits.cpu': 'x', 'boot.autostart': 'maybe' };
    expect(configProblems(config, INSTANCE).map((problem) => problem.key)).toEqual([
      'boot.autostart',
      'limits.cpu',
      'z.unknown',
    ]);
    try {
      validConfig(config, INSTANCE);
      expect.unreachable();
    } catch (error) {
      expect(isEngineError(error, 'INVALID_ARGUMENT')).toBe(true);
      if (isEngineError(error)) {
        expect(error.field).toBe('config["boot.autostart"]');
        expect(error.code).toBe('INVALID_ARGUMENT');
      }
    }
  });
});

describe('restrictedKeysIn', () => {
  const everything = {
    'limits.cpu': '2',
    'boot.host_shutdown_timeout': '10',
    'raw.lxc': 'lxc.a = b',
    'raw.qemu': '-S',
    'raw.idmap': 'both 1000 1000',
    'security.idmap.base': '100000',
    'security.idmap.size': '65536',
    'security.privileged': 'true',
    'security.nesting': 'true',
    'security.idmap.isolated': 'false',
    'user.x': 'y',
  };

  it('lists what a restricted project with default restrictions refuses on a container', () => {
    expect(restrictedKeysIn(everything, { instanceType: 'container' })).toEqual([
      'boot.host_shutdown_timeout',
      'raw.idmap',
      'raw.lxc',
      'security.idmap.base',
      'security.idmap.size',
      'security.nesting',
      'security.privileged',
    ]);
  });

  it('on a VM only the VM low-level keys count', () => {
    expect(restrictedKeysIn(everything, { instanceType: 'virtual-machine' })).toEqual([
      'boot.host_shutdown_timeout',
      'raw.idmap',
      'raw.qemu',
    ]);
  });

  it('on a profile, every key of either type', () => {
    expect(restrictedKeysIn(everything)).toEqual([
      'boot.host_shutdown_timeout',
      'raw.idmap',
      'raw.lxc',
      'raw.qemu',
      'security.idmap.base',
      'security.idmap.size',
      'security.nesting',
      'security.privileged',
    ]);
  });

  it('refuses switches only when on', () => {
    expect(
      restrictedKeysIn(
        { 'security.privileged': 'false', 'security.nesting': '' },
        { instanceType: 'container' },
      ),
    ).toEqual([]);
  });

  it('refuses nothing in an unrestricted project', () => {
    expect(restrictedKeysIn(everything, { instanceType: 'container', project: {} })).toEqual([]);
    expect(
      restrictedKeysIn(everything, { instanceType: 'container', project: { restricted: 'false' } }),
    ).toEqual([]);
  });

  it('follows the project restricted.* settings', () => {
    const project = {
      restricted: 'true',
      'restricted.containers.lowlevel': 'allow',
      'restricted.containers.nesting': 'allow',
      'restricted.containers.privilege': 'allow',
    };
    expect(restrictedKeysIn(everything, { instanceType: 'container', project })).toEqual([]);
    // A profile needs both container and VM low-level allowed.
    expect(restrictedKeysIn(everything, { project })).toEqual([
      'boot.host_shutdown_timeout',
      'raw.idmap',
      'raw.lxc',
      'raw.qemu',
      'security.idmap.base',
      'security.idmap.size',
    ]);
  });

  it('refuses a non-isolated container when restricted.containers.privilege=isolated', () => {
    const project = { restricted: 'true', 'restricted.containers.privilege': 'isolated' };
    expect(
      restrictedKeysIn(
        { 'security.idmap.isolated': 'false' },
        { instanceType: 'container', project },
      ),
    ).toEqual(['security.idmap.isolated']);
    expect(
      restrictedKeysIn(
        { 'security.idmap.isolated': 'true' },
        { instanceType: 'container', project },
      ),
    ).toEqual([]);
    expect(
      restrictedKeysIn({ 'security.idmap.isolated': 'false' }, { instanceType: 'container' }),
    ).toEqual([]);
  });

  it('allows raw.idmap whose host IDs are within restricted.idmap.uid/gid, as LXD', () => {
    const project = {
      restricted: 'true',
      'restricted.idmap.uid': '1000-1999',
      'restricted.idmap.gid': '1000-1999, 5000',
    };
    const allowed = (idmap: string) =>
      restrictedKeysIn({ 'raw.idmap': idmap }, { instanceType: 'container', project }).length === 0;
    expect(allowed('both 1000 1000')).toBe(true);
    expect(allowed('uid 1500-1599 0-99')).toBe(true);
    expect(allowed('gid 5000 5000')).toBe(true);
    expect(allowed('uid 5000 5000')).toBe(false);
    expect(allowed('both 1990-2010 0-20')).toBe(false);
    expect(allowed('both 0 0')).toBe(false);
    expect(allowed('garbage')).toBe(false);
  });
});

describe('configKeyHints', () => {
  it('lists user-settable keys with type, default and description', () => {
    const hints = configKeyHints({ instanceType: 'virtual-machine' });
    const byKey = Object.fromEntries(hints.map((hint) => [hint.key, hint]));
    expect(byKey['limits.cpu']).toMatchObject({
      type: 'cpuset',
      default: '1',
      liveUpdate: true,
      restricted: false,
    });
    expect(byKey['limits.memory']).toMatchObject({ type: 'bytes', default: '1GiB' });
    expect(byKey['raw.qemu']).toMatchObject({ type: 'blob', restricted: true });
    expect(byKey['security.privileged']).toBeUndefined();
    expect(byKey['volatile.uuid']).toBeUndefined();
    expect(byKey['environment.*']?.description).toMatch(/environment variable/i);
  });

  it('lists container keys for containers and both for profiles, volatile on request', () => {
    expect(
      configKeyHints({ instanceType: 'container' }).some((hint) => hint.key === 'raw.qemu'),
    ).toBe(false);
    const all = configKeyHints();
    expect(all.some((hint) => hint.key === 'raw.qemu')).toBe(true);
    expect(all.some((hint) => hint.key === 'raw.lxc')).toBe(true);
    expect(
      configKeyHints({ includeEngineOwned: true }).find((hint) => hint.key === 'volatile.*.hwaddr'),
    ).toMatchObject({
      engineOwned: true,
      type: 'mac',
    });
  });
});
