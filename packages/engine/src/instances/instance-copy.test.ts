import { describe, expect, it } from 'vitest';
import {
  copiedConfig,
  copiedDevices,
  parseCopySource,
  withoutEchoedVolatile,
} from './instance-copy.ts';

describe('parseCopySource', () => {
  it('reads an instance or an instance/snapshot', () => {
    expect(parseCopySource('c1')).toEqual({ instance: 'c1' });
    expect(parseCopySource('c1/snap0')).toEqual({ instance: 'c1', snapshot: 'snap0' });
  });

  it('refuses what is neither, naming source.source', () => {
    for (const bad of ['', ' ', 'c1/a/b', 'bad_name', 'c1/', '/snap0', 'c1/..']) {
      expect(() => parseCopySource(bad), bad).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'source.source' }),
      );
    }
  });
});

describe('copiedConfig', () => {
  it('keeps local keys and volatile.base_image, drops what identifies the source, request wins', () => {
    expect(
      copiedConfig(
        {
          'user.a': '1',
          'image.os': 'busybox',
          'limits.cpu': '2',
          'volatile.base_image': 'abc',
          'volatile.eth0.hwaddr': '00:16:3e:00:00:01',
          'volatile.uuid': 'u',
          'volatile.last_state.power': 'RUNNING',
          'volatile.apply_template': 'copy',
        },
        { 'limits.cpu': '1', 'user.b': '2' },
      ),
    ).toEqual({
      'user.a': '1',
      'image.os': 'busybox',
      'limits.cpu': '1',
      'user.b': '2',
      'volatile.base_image': 'abc',
    });
  });
});

describe('copiedDevices', () => {
  it("takes the source's devices; a device in the request replaces the source's whole", () => {
    expect(
      copiedDevices(
        { root: { type: 'disk', path: '/', pool: 'default' }, eth0: { type: 'nic', network: 'a' } },
        { eth0: { type: 'nic', network: 'b', name: 'eth0' } },
      ),
    ).toEqual({
      root: { type: 'disk', path: '/', pool: 'default' },
      eth0: { type: 'nic', network: 'b', name: 'eth0' },
    });
  });
});

describe('withoutEchoedVolatile', () => {
  it("drops the source's volatile values the request echoes, keeps others", () => {
    expect(
      withoutEchoedVolatile(
        { 'volatile.base_image': 'abc', 'volatile.uuid': 'other', 'user.a': '1' },
        { 'volatile.base_image': 'abc', 'volatile.uuid': 'u' },
      ),
    ).toEqual({ 'volatile.uuid': 'other', 'user.a': '1' });
  });
});
