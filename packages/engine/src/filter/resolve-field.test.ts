import { describe, expect, it } from 'vitest';
import { resolveField } from './resolve-field';

const instance = {
  name: 'c1',
  status_code: 103,
  ephemeral: false,
  profiles: ['default'],
  backups: null,
  config: { 'limits.cpu': '2', 'image.os': 'Ubuntu', 'volatile.eth0.hwaddr': '00:16:3e:00:00:01' },
  devices: {},
  expanded_devices: { eth0: { type: 'nic', 'ipv4.address': '10.0.0.2' } },
  state: {
    status: 'Running',
    memory: { usage: 466944 },
    network: { eth0: { hwaddr: '00:16:3e:00:00:01', mtu: 1500 } },
  },
  snapshots: [{ name: 'snap0' }],
};

describe('resolveField', () => {
  it.each<[string, unknown]>([
    ['name', 'c1'],
    ['status_code', 103],
    ['ephemeral', false],
    ['profiles', ['default']],
    // A config key is one key, dots and all.
    ['config.limits.cpu', '2'],
    ['config.volatile.eth0.hwaddr', '00:16:3e:00:00:01'],
    // A missing key of a string map reads as Go's zero value.
    ['config.limits.memory', ''],
    ['config.limits', ''],
    // Maps of maps and structs are entered one segment at a time.
    ['expanded_devices.eth0.type', 'nic'],
    ['expanded_devices.eth0.ipv4.address', '10.0.0.2'],
    ['expanded_devices.eth0.ipv6.address', ''],
    ['expanded_devices.eth1.type', undefined],
    ['state.status', 'Running'],
    ['state.memory.usage', 466944],
    ['state.memory.swap', undefined],
    // Deeper than LXD reaches (it stops at maps of structs).
    ['state.network.eth0.hwaddr', '00:16:3e:00:00:01'],
    ['state.network.eth0.mtu', 1500],
    // An empty object is taken for a string map.
    ['devices.eth0.type', ''],
    // Objects come back whole; arrays are not indexed.
    ['expanded_devices.eth0', { type: 'nic', 'ipv4.address': '10.0.0.2' }],
    ['snapshots.0.name', undefined],
    ['snapshots', [{ name: 'snap0' }]],
    // JSON null and unknown fields read as nothing.
    ['backups', undefined],
    ['unknown', undefined],
    ['name.first', undefined],
    ['', undefined],
    ['.name', undefined],
    ['constructor', undefined],
    ['__proto__', undefined],
    ['config.constructor', ''],
  ])('%s', (field, expected) => {
    expect(resolveField(instance, field)).toEqual(expected);
  });

  it('reads nothing from a non-object', () => {
    expect(resolveField('c1', 'name')).toBeUndefined();
    expect(resolveField(null, 'name')).toBeUndefined();
    expect(resolveField(['c1'], '0')).toBeUndefined();
  });
});
