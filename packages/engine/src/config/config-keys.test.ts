import { describe, expect, it } from 'vitest';
import { configKeys, defaultFor, keyAppliesTo, lookupConfigKey } from './config-keys';
import { schemaProblem } from './value-checks';

const REQUIRED_KEYS = [
  'limits.cpu',
  'limits.memory',
  'limits.processes',
  'security.privileged',
  'security.nesting',
  'boot.autostart',
  'boot.autostart.delay',
  'boot.autostart.priority',
  'boot.host_shutdown_timeout',
  'boot.stop.priority',
  'environment.*',
  'user.*',
  'raw.lxc',
  'raw.qemu',
  'raw.idmap',
  'snapshots.schedule',
  'snapshots.schedule.stopped',
  'snapshots.expiry',
  'snapshots.pattern',
  'security.idmap.isolated',
  'security.idmap.base',
  'security.idmap.size',
  'cloud-init.user-data',
  'cloud-init.vendor-data',
  'cloud-init.network-config',
  'user.user-data',
  'image.*',
  'volatile.base_image',
  'volatile.last_state.power',
  'volatile.idmap.base',
  'volatile.idmap.current',
  'volatile.idmap.next',
  'volatile.*.hwaddr',
  'volatile.*.name',
  'volatile.uuid',
  'volatile.apply_template',
];

describe('the config key table', () => {
  it.each(REQUIRED_KEYS)('has %s', (key) => {
    expect(configKeys[key]).toBeDefined();
  });

  it.each(Object.values(configKeys).map((def) => [def.key, def]))(
    '%s is complete and its default passes its own validator',
    (key, def) => {
      expect(def.key).toBe(key);
      expect(def.description.length).toBeGreaterThan(10);
      expect(['container', 'virtual-machine', 'both']).toContain(def.appliesTo);
      for (const value of typeof def.default === 'object'
        ? Object.values(def.default)
        : [def.default]) {
        if (value !== undefined) expect(schemaProblem(def.validate, value)).toBeUndefined();
      }
    },
  );

  it('marks volatile.* engine-owned and keeps volatile.* and image.* out of profiles, as LXD', () => {
    for (const def of Object.values(configKeys)) {
      expect(def.engineOwned).toBe(def.key.startsWith('volatile.'));
      expect(def.inProfiles).toBe(
        !def.key.startsWith('volatile.') && !def.key.startsWith('image.'),
      );
    }
  });

  it("restricts LXD's low-level keys and the privilege/nesting switches", () => {
    const restricted = Object.values(configKeys)
      .filter((def) => def.restricted !== false)
      .map((def) => def.key)
      .sort();
    expect(restricted).toEqual([
      'boot.host_shutdown_timeout',
      'raw.idmap',
      'raw.lxc',
      'raw.qemu',
      'security.idmap.base',
      'security.idmap.isolated',
      'security.idmap.size',
      'security.nesting',
      'security.privileged',
    ]);
  });

  it('scopes keys to instance types as LXD does', () => {
    const scope = (key: string) => configKeys[key]?.appliesTo;
    expect(scope('raw.lxc')).toBe('container');
    expect(scope('security.privileged')).toBe('container');
    expect(scope('limits.processes')).toBe('container');
    expect(scope('raw.qemu')).toBe('virtual-machine');
    expect(scope('limits.cpu')).toBe('both');
    expect(scope('raw.idmap')).toBe('both');
  });

  it('has live-update flags for the keys that matter to a running instance', () => {
    expect(configKeys['limits.memory']?.liveUpdate).toBe(true);
    expect(configKeys['limits.cpu']?.liveUpdate).toBe(true);
    expect(configKeys['security.privileged']?.liveUpdate).toBe(false);
    expect(configKeys['raw.lxc']?.liveUpdate).toBe(false);
  });
});

describe('lookupConfigKey', () => {
  it.each([
    ['limits.cpu', 'limits.cpu'],
    ['environment.PATH', 'environment.*'],
    ['environment.a.b', 'environment.*'],
    ['user.anything', 'user.*'],
    ['user.user-data', 'user.user-data'],
    ['image.os', 'image.*'],
    ['volatile.eth0.hwaddr', 'volatile.*.hwaddr'],
    ['volatile.eth0.host_name', 'volatile.*.host_name'],
    ['volatile.my.nic.name', 'volatile.*.name'],
    ['volatile.root.apply_quota', 'volatile.*.apply_quota'],
    ['volatile.apply_quota', 'volatile.apply_quota'],
    ['volatile.uuid', 'volatile.uuid'],
    ['volatile.eth0.uuid', 'volatile.*.uuid'],
    ['volatile.idmap.base', 'volatile.idmap.base'],
  ])('%s → %s', (key, tableKey) => {
    expect(lookupConfigKey(key)?.key).toBe(tableKey);
  });

  it.each([
    'limits.bogus',
    'environment.',
    'user.',
    'volatile.',
    'volatile.foo',
    'volatile.eth0.bogus',
    'security.syscalls.deny',
    'limits',
    '',
  ])('does not know %j', (key) => {
    expect(lookupConfigKey(key)).toBeUndefined();
  });
});

describe('defaults and scope helpers', () => {
  it('gives per-type defaults', () => {
    const cpu = configKeys['limits.cpu'];
    const memory = configKeys['limits.memory'];
    if (!cpu || !memory) throw new Error('missing keys');
    expect(defaultFor(cpu, 'virtual-machine')).toBe('1');
    expect(defaultFor(cpu, 'container')).toBeUndefined();
    expect(defaultFor(cpu)).toBeUndefined();
    expect(defaultFor(memory, 'virtual-machine')).toBe('1GiB');
    expect(defaultFor(configKeys['boot.host_shutdown_timeout'] ?? cpu)).toBe('30');
    expect(defaultFor(configKeys['snapshots.pattern'] ?? cpu, 'container')).toBe('snap%d');
  });

  it('lets profiles (no type) use every key', () => {
    const rawQemu = configKeys['raw.qemu'];
    if (!rawQemu) throw new Error('missing raw.qemu');
    expect(keyAppliesTo(rawQemu, undefined)).toBe(true);
    expect(keyAppliesTo(rawQemu, 'virtual-machine')).toBe(true);
    expect(keyAppliesTo(rawQemu, 'container')).toBe(false);
  });
});
