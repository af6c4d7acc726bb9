import { describe, expect, it } from 'vitest';
import {
  parseBackupIndex,
  renderBackupIndex,
  renderBackupYaml,
  type BackupIndex,
} from './backup-index.ts';

const index: BackupIndex = {
  name: 'c1',
  backend: 'dir',
  pool: 'default',
  type: 'container',
  snapshots: ['snap0', 'snap1'],
  optimized: false,
  instance: {
    name: 'c1',
    type: 'container',
    architecture: 'x86_64',
    description: 'web: "front"',
    ephemeral: false,
    stateful: false,
    profiles: ['default', 'small'],
    config: {
      'limits.cpu': '2',
      'security.nesting': 'true',
      'raw.lxc': 'lxc.apparmor.profile = unconfined\nlxc.mount.auto = proc:rw\n',
      'user.empty': '',
      'volatile.eth0.hwaddr': '00:16:3e:aa:bb:cc',
    },
    devices: { root: { type: 'disk', path: '/', pool: 'default' } },
    createdAt: '2024-05-01T10:00:00Z',
  },
  snapshotConfigs: [
    {
      name: 'snap0',
      description: '',
      config: { 'limits.cpu': '1' },
      devices: {},
      createdAt: '2024-05-02T10:00:00Z',
      expiresAt: '2024-06-02T10:00:00Z',
    },
  ],
};
const pool = {
  name: 'default',
  driver: 'dir',
  config: { source: '/var/lib/berth/storage/default' },
};

describe('renderBackupIndex / parseBackupIndex', () => {
  it('round-trips what an export writes', () => {
    const text = renderBackupIndex(index, 'default', pool);
    expect(text).toMatch(/^name: c1\nbackend: dir\npool: default\n/);
    const parsed = parseBackupIndex(text);
    expect(parsed).toMatchObject({
      name: 'c1',
      backend: 'dir',
      pool: 'default',
      type: 'container',
      snapshots: ['snap0', 'snap1'],
      optimized: false,
      snapshotConfigs: index.snapshotConfigs,
    });
    expect(parsed.instance).toMatchObject({
      ...index.instance,
      expandedConfig: index.instance?.config,
    });
  });

  it('reads the config from backup.yaml when index.yaml has none (old LXD)', () => {
    const text = 'name: c1\nbackend: dir\npool: default\nsnapshots:\n- snap0\n';
    const parsed = parseBackupIndex(text, renderBackupYaml(index, 'default', pool));
    expect(parsed.instance?.config['limits.cpu']).toBe('2');
    expect(parsed.snapshots).toEqual(['snap0']);
    expect(parseBackupIndex(text).instance).toBeNull();
  });

  it("reads a virtual machine's config from its own backup.yaml, and names that file in errors", () => {
    const vm: BackupIndex = {
      ...index,
      name: 'v1',
      type: 'virtual-machine',
      instance: { ...index.instance!, name: 'v1', type: 'virtual-machine' },
    };
    const rendered = renderBackupIndex(vm, 'default', pool);
    expect(rendered).toMatch(/\ntype: virtual-machine\n/);
    expect(parseBackupIndex(rendered).instance?.type).toBe('virtual-machine');
    const text = 'name: v1\ntype: virtual-machine\n';
    const yamls = {
      container: 'container:\n  config: 3\n',
      'virtual-machine': renderBackupYaml(vm, 'default', pool),
    };
    expect(parseBackupIndex(text, yamls).instance).toMatchObject({
      name: 'v1',
      type: 'virtual-machine',
    });
    expect(() =>
      parseBackupIndex(text, { 'virtual-machine': 'container:\n  config: 3\n' }),
    ).toThrow(/^backup\/virtual-machine\/backup.yaml: container.config: must be a mapping/);
  });

  it('reads an index.yaml as LXD 5 writes it', () => {
    const lxd = [
      'name: c2',
      'backend: btrfs',
      'pool: default',
      'snapshots:',
      '- c2/snap0',
      'optimized: false',
      'optimized_header: false',
      'type: container',
      'config:',
      '  container:',
      '    architecture: x86_64',
      '    config:',
      '      image.os: Alpine',
      '      volatile.base_image: 1234abcd',
      '    devices: {}',
      '    ephemeral: false',
      '    profiles:',
      '    - default',
      '    stateful: false',
      '    description: ""',
      '    created_at: 2024-01-02T03:04:05.123456789Z',
      '    name: c2',
      '    status: Running',
      '    status_code: 103',
      '    type: container',
      '    project: default',
      '  snapshots:',
      '  - architecture: x86_64',
      '    config:',
      '      image.os: Alpine',
      '    created_at: 2024-01-03T00:00:00Z',
      '    devices: {}',
      '    expires_at: 0001-01-01T00:00:00Z',
      '    name: snap0',
      '    size: -1',
      '',
    ].join('\n');
    const parsed = parseBackupIndex(lxd);
    expect(parsed.backend).toBe('btrfs');
    expect(parsed.snapshots).toEqual(['c2/snap0']);
    expect(parsed.instance).toMatchObject({
      name: 'c2',
      profiles: ['default'],
      config: { 'image.os': 'Alpine', 'volatile.base_image': '1234abcd' },
    });
    expect(parsed.snapshotConfigs).toMatchObject([
      { name: 'snap0', expiresAt: '0001-01-01T00:00:00Z' },
    ]);
  });

  it('names the file and field of what is wrong', () => {
    expect(() => parseBackupIndex('backend: dir\n')).toThrow(
      /backup\/index.yaml: name: is required/,
    );
    expect(() => parseBackupIndex('name: c1\noptimized: maybe\n')).toThrow(
      /backup\/index.yaml: optimized: must be true or false/,
    );
    expect(() => parseBackupIndex('name: c1\ntype: vm\n')).toThrow(/unknown instance type "vm"/);
    expect(() =>
      parseBackupIndex('name: c1\nconfig:\n  container:\n    config:\n      a: [1]\n'),
    ).toThrow(/backup\/index.yaml: config.container.config\["a"\]: must be a string/);
    expect(() => parseBackupIndex('name: c1\n  bad: indent\n')).toThrow(
      /^backup\/index.yaml: line/,
    );
    expect(() => parseBackupIndex('name: c1\n', 'container: [\n')).toThrow(
      /^backup\/container\/backup.yaml: line 2: Flow sequence in block collection/,
    );
    expect(() => parseBackupIndex('name: c1\n', 'container:\n  config: 3\n')).toThrow(
      /backup\/container\/backup.yaml: container.config: must be a mapping/,
    );
  });
});
