import { describe, expect, it } from 'vitest';
import {
  freeDeviceName,
  putWithoutVolume,
  snapshotNameOf,
  volumeDiskNames,
  volumeFormField,
} from './volume-devices.ts';

const devices = {
  root: { type: 'disk', pool: 'default', path: '/' },
  data: { type: 'disk', pool: 'default', source: 'data', path: '/mnt/data' },
  other: { type: 'disk', pool: 'fast', source: 'data', path: '/mnt/fast' },
  eth0: { type: 'nic', network: 'berthbr0', name: 'eth0' },
};

describe('volume disks', () => {
  it('finds the disks that mount a volume of a pool, not a same-named one elsewhere', () => {
    expect(volumeDiskNames(devices, 'default', 'data')).toEqual(['data']);
    expect(volumeDiskNames(devices, 'fast', 'data')).toEqual(['other']);
    expect(volumeDiskNames(devices, 'default', 'root')).toEqual([]);
  });

  it('names a new device after the volume, numbered when taken', () => {
    expect(freeDeviceName(devices, 'logs')).toBe('logs');
    expect(freeDeviceName(devices, 'data')).toBe('data-2');
    expect(freeDeviceName({ ...devices, 'data-2': {} }, 'data')).toBe('data-3');
  });

  it('detaches with a PUT of everything else, volatile keys left out', () => {
    const put = putWithoutVolume(
      {
        description: 'd',
        config: { 'limits.cpu': '1', 'volatile.uuid': 'x' },
        devices,
        profiles: ['default'],
        ephemeral: false,
      },
      'default',
      'data',
    );
    expect(put).toEqual({
      description: 'd',
      config: { 'limits.cpu': '1' },
      devices: { root: devices.root, other: devices.other, eth0: devices.eth0 },
      profiles: ['default'],
      ephemeral: false,
    });
  });
});

describe('names and fields', () => {
  it('takes the snapshot part of a listed name', () => {
    expect(snapshotNameOf('v1/snap0')).toBe('snap0');
    expect(snapshotNameOf('snap0')).toBe('snap0');
  });

  it("maps the server's fields to the form's", () => {
    expect(volumeFormField('volume.name')).toBe('name');
    expect(volumeFormField('name')).toBe('name');
    expect(volumeFormField('config["size"]')).toBe('size');
    expect(volumeFormField('volume.content_type')).toBe('content_type');
    expect(volumeFormField('post.name')).toBe('name');
  });
});
