import { describe, expect, it } from 'vitest';
import { withoutGoZeroValues } from './body.ts';
import { uploadOptions } from './routes/image-transfer.ts';
import { snapshotOf, withoutEchoedVolatile } from './routes/instances.ts';
import {
  channelOfSecret,
  channelSecrets,
  execChannels,
  parseControlMessage,
  requiredChannels,
  upgradeRefusal,
} from './ws-protocol.ts';
import { RestError } from './envelope.ts';

describe('exec channels (lxd/instance_exec.go)', () => {
  it('offers 0,1,2,control or 0,control, and waits for control only when interactive', () => {
    expect(execChannels(false)).toEqual(['0', '1', '2', 'control']);
    expect(execChannels(true)).toEqual(['0', 'control']);
    expect(requiredChannels(false)).toEqual(['0', '1', '2']);
    expect(requiredChannels(true)).toEqual(['0', 'control']);
  });

  it('gives each channel its own 64-hex-digit secret, and maps a secret back to its channel', () => {
    const secrets = channelSecrets(execChannels(false));
    expect(Object.keys(secrets)).toEqual(['0', '1', '2', 'control']);
    for (const s of Object.values(secrets)) expect(s).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(Object.values(secrets)).size).toBe(4);
    expect(channelOfSecret(secrets, secrets['2'])).toBe('2');
    expect(channelOfSecret(secrets, secrets.control)).toBe('control');
    expect(channelOfSecret(secrets, '')).toBeUndefined();
    expect(channelOfSecret(secrets, secrets['0'].slice(0, 63))).toBeUndefined();
  });
});

describe('control messages (api.InstanceExecControl)', () => {
  it('reads window-resize (sizes as strings, as lxc sends them) and signal', () => {
    expect(
      parseControlMessage('{"command":"window-resize","args":{"width":"120","height":"40"}}'),
    ).toEqual({ command: 'window-resize', cols: 120, rows: 40 });
    expect(parseControlMessage('{"command":"signal","args":null,"signal":15}')).toEqual({
      command: 'signal',
      signal: 15,
    });
  });

  it('ignores what it cannot act on', () => {
    for (const text of [
      'not json',
      'null',
      '[]',
      '{"command":"window-resize","args":{"width":"0","height":"24"}}',
      '{"command":"window-resize","args":{"width":"x","height":"24"}}',
      '{"command":"window-resize"}',
      '{"command":"signal","signal":0}',
      '{"command":"signal","signal":65}',
      '{"command":"signal","signal":"9; rm"}',
      '{"command":"bogus"}',
    ])
      expect(parseControlMessage(text)).toBeNull();
  });
});

describe('a refused upgrade', () => {
  it('is an HTTP response with LXD’s error envelope, then the connection closes', () => {
    const text = upgradeRefusal(403, 'Invalid websocket secret');
    const [head, body] = text.split('\r\n\r\n');
    expect(head!.split('\r\n')).toEqual([
      'HTTP/1.1 403 Forbidden',
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body!)}`,
      'Connection: close',
    ]);
    expect(JSON.parse(body!)).toEqual({
      type: 'error',
      status: '',
      status_code: 0,
      operation: '',
      error_code: 403,
      error: 'Invalid websocket secret',
      metadata: null,
    });
  });
});

describe('what the Go client sends', () => {
  it('drops nil lists, maps and pointers, and an empty type or architecture', () => {
    expect(
      withoutGoZeroValues({
        architecture: '',
        config: {},
        devices: {},
        profiles: null,
        expires_at: null,
        name: 'c1',
        description: '',
        type: '',
        source: { type: 'image', certificate: '' },
      }),
    ).toEqual({
      config: {},
      devices: {},
      name: 'c1',
      description: '',
      source: { type: 'image', certificate: '' },
    });
    expect(withoutGoZeroValues([null])).toEqual([null]);
    expect(withoutGoZeroValues(null)).toBeNull();
  });

  it('restores `c1/snap0` as snap0 of c1, and refuses another instance’s snapshot', () => {
    expect(snapshotOf('c1', 'snap0')).toBe('snap0');
    expect(snapshotOf('c1', 'c1/snap0')).toBe('snap0');
    expect(() => snapshotOf('c1', 'c2/snap0')).toThrow(RestError);
  });

  it('drops the volatile keys lxc config set echoes back unchanged, keeps a changed one', () => {
    const current = {
      'volatile.base_image': 'abc',
      'volatile.eth0.hwaddr': '02:00',
      'user.a': '1',
    };
    expect(
      withoutEchoedVolatile(
        { 'volatile.base_image': 'abc', 'volatile.eth0.hwaddr': '02:01', 'user.a': '2' },
        current,
      ),
    ).toEqual({ 'volatile.eth0.hwaddr': '02:01', 'user.a': '2' });
  });

  it('reads an image upload’s headers as lxc image import sends them', () => {
    const headers: Record<string, string> = {
      'x-lxd-filename': '../../etc/busybox.tar.gz',
      'x-lxd-public': 'true',
      'x-lxd-properties': 'os=busybox&description=a+test',
    };
    expect(uploadOptions((n) => headers[n])).toEqual({
      public: true,
      filename: 'busybox.tar.gz',
      properties: { os: 'busybox', description: 'a test' },
    });
    expect(uploadOptions(() => undefined)).toEqual({ public: false });
    expect(uploadOptions((n) => (n === 'x-lxd-filename' ? '..' : undefined))).toEqual({
      public: false,
    });
  });
});
