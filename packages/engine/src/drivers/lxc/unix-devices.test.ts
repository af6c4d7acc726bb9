import { describe, expect, it } from 'vitest';
import { isEngineError } from '../../errors.ts';
import { planUnixDevices, splitDeviceNumber, type DeviceNodeInfo } from './unix-devices.ts';

const nodes: Record<string, DeviceNodeInfo> = {
  '/dev/zero': { isCharacterDevice: true, rdev: 0x105 },
  '/etc/hostname': { isCharacterDevice: false, rdev: 0 },
};
const stat = (source: string) => nodes[source];

function failure(work: () => unknown): { code: string; message: string } {
  try {
    work();
  } catch (error) {
    if (isEngineError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a failure');
}

describe('splitDeviceNumber', () => {
  it('splits dev_t as glibc does', () => {
    expect(splitDeviceNumber(0x105)).toEqual({ major: 1, minor: 5 });
    expect(splitDeviceNumber(0xe200)).toEqual({ major: 226, minor: 0 });
    // major 259, minor 0x12345: minor bits 8+ live at 20+.
    const dev = (0x103n << 8n) | 0x45n | (0x123n << 20n);
    expect(splitDeviceNumber(dev)).toEqual({ major: 259, minor: 0x12345 });
  });
});

describe('planUnixDevices', () => {
  it('reads major/minor from the source, with path, owner and mode', () => {
    expect(
      planUnixDevices(
        {
          root: { type: 'disk', path: '/' },
          z: {
            type: 'unix-char',
            source: '/dev/zero',
            path: '/dev/berthzero',
            uid: '1000',
            mode: '0640',
          },
          same: { type: 'unix-char', path: '/dev/zero' },
        },
        stat,
      ),
    ).toEqual([
      { device: 'same', path: '/dev/zero', major: 1, minor: 5, uid: 0, gid: 0, mode: 0o660 },
      { device: 'z', path: '/dev/berthzero', major: 1, minor: 5, uid: 1000, gid: 0, mode: 0o640 },
    ]);
  });

  it('takes major/minor as given without a source', () => {
    expect(
      planUnixDevices(
        { t: { type: 'unix-char', path: '/dev/net/tun', major: '10', minor: '200' } },
        stat,
      ),
    ).toEqual([
      { device: 't', path: '/dev/net/tun', major: 10, minor: 200, uid: 0, gid: 0, mode: 0o660 },
    ]);
  });

  it('fails on a missing source unless required=false, naming the key', () => {
    expect(
      failure(() => planUnixDevices({ m: { type: 'unix-char', source: '/dev/nope' } }, stat)),
    ).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('devices["m"]["source"]'),
    });
    expect(
      planUnixDevices({ m: { type: 'unix-char', source: '/dev/nope', required: 'false' } }, stat),
    ).toEqual([]);
    expect(
      failure(() =>
        planUnixDevices(
          { f: { type: 'unix-char', source: '/etc/hostname', path: '/dev/x' } },
          stat,
        ),
      ),
    ).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('not a character device'),
    });
  });
});
