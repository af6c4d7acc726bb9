import { describe, expect, it } from 'vitest';
import { sizeBytes, validateVolumeConfig, withVolatileOf } from './volume-config.ts';

describe('validateVolumeConfig', () => {
  it('takes the dir driver’s keys and user.*', () => {
    expect(() =>
      validateVolumeConfig('v1', 'filesystem', {
        size: '10GiB',
        'snapshots.schedule': '@daily',
        'snapshots.expiry': '1w',
        'snapshots.pattern': 'snap%d',
        'security.unmapped': 'true',
        'user.note': 'anything',
        'volatile.idmap.last': '[]',
      }),
    ).not.toThrow();
  });

  it('refuses unknown keys and bad values with LXD’s messages', () => {
    expect(() => validateVolumeConfig('v1', 'filesystem', { 'block.filesystem': 'ext4' })).toThrow(
      'Invalid option for volume "v1" option "block.filesystem"',
    );
    expect(() => validateVolumeConfig('v1', 'filesystem', { size: 'big' })).toThrow(
      'Invalid value for volume "v1" option "size"',
    );
    expect(() =>
      validateVolumeConfig('v1', 'filesystem', { 'snapshots.schedule': 'sometimes' }),
    ).toThrow('option "snapshots.schedule"');
    expect(() =>
      validateVolumeConfig('v1', 'filesystem', { 'snapshots.pattern': '%d-%d' }),
    ).toThrow("Snapshot pattern may contain '%d' only once");
    expect(() =>
      validateVolumeConfig('v1', 'filesystem', {
        'security.shifted': 'true',
        'security.unmapped': 'true',
      }),
    ).toThrow('security.unmapped and security.shifted are mutually exclusive');
  });

  it('keeps id map records off block volumes', () => {
    expect(() => validateVolumeConfig('b1', 'block', { 'volatile.idmap.last': '[]' })).toThrow(
      'Invalid option for volume "b1" option "volatile.idmap.last"',
    );
  });
});

describe('withVolatileOf', () => {
  it('keeps the engine’s volatile keys whatever the request says', () => {
    expect(
      withVolatileOf(
        { size: '1GiB', 'volatile.idmap.last': '[x]' },
        { size: '2GiB', 'volatile.idmap.last': 'forged', 'volatile.other': 'y' },
      ),
    ).toEqual({ size: '2GiB', 'volatile.idmap.last': '[x]' });
  });
});

describe('sizeBytes', () => {
  it('reads LXD sizes', () => {
    expect(sizeBytes('64MiB')).toBe(64 * 1024 * 1024);
    expect(sizeBytes(undefined)).toBe(0);
  });
});
