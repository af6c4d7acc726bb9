import { describe, expect, it } from 'vitest';
import { expand, expandConfig, expandDevices } from './expand-config.ts';

describe('expandConfig', () => {
  it.each([
    { name: 'no profiles, no local', profiles: [], local: {}, want: {} },
    { name: 'local only', profiles: [], local: { 'limits.cpu': '2' }, want: { 'limits.cpu': '2' } },
    {
      name: 'profile only',
      profiles: [{ 'limits.cpu': '1' }],
      local: {},
      want: { 'limits.cpu': '1' },
    },
    {
      name: 'later profile wins over earlier',
      profiles: [{ 'limits.cpu': '1', 'user.a': 'x' }, { 'limits.cpu': '4' }],
      local: {},
      want: { 'limits.cpu': '4', 'user.a': 'x' },
    },
    {
      name: 'local wins over every profile',
      profiles: [{ 'limits.cpu': '1' }, { 'limits.cpu': '4' }],
      local: { 'limits.cpu': '8' },
      want: { 'limits.cpu': '8' },
    },
    {
      name: 'keys from all layers are kept',
      profiles: [{ 'user.a': '1' }, { 'user.b': '2' }],
      local: { 'user.c': '3' },
      want: { 'user.a': '1', 'user.b': '2', 'user.c': '3' },
    },
    {
      name: 'an empty local value still overrides (LXD keeps it)',
      profiles: [{ 'user.a': '1' }],
      local: { 'user.a': '' },
      want: { 'user.a': '' },
    },
  ])('$name', ({ profiles, local, want }) => {
    const layers = profiles.map((config) => ({ config: config as Record<string, string> }));
    expect(expandConfig(layers, local as Record<string, string>)).toEqual(want);
  });

  it('does not modify its inputs', () => {
    const profile = { config: { 'user.a': '1' } };
    const local = { 'user.a': '2' };
    expandConfig([profile], local);
    expect(profile.config).toEqual({ 'user.a': '1' });
    expect(local).toEqual({ 'user.a': '2' });
  });
});

describe('expandDevices', () => {
  const root = { type: 'disk', path: '/', pool: 'default' };
  it('adds devices from every layer', () => {
    expect(
      expandDevices(
        [{ devices: { root } }, { devices: { eth0: { type: 'nic', network: 'berthbr0' } } }],
        {
          data: { type: 'disk', source: '/srv', path: '/srv' },
        },
      ),
    ).toEqual({
      root,
      eth0: { type: 'nic', network: 'berthbr0' },
      data: { type: 'disk', source: '/srv', path: '/srv' },
    });
  });

  it('replaces a device whole rather than merging its keys', () => {
    const out = expandDevices([{ devices: { root: { ...root, size: '10GiB' } } }], {
      root: { type: 'disk', path: '/', pool: 'fast' },
    });
    expect(out.root).toEqual({ type: 'disk', path: '/', pool: 'fast' });
  });

  it('later profiles replace earlier ones by device name', () => {
    const out = expandDevices(
      [
        { devices: { eth0: { type: 'nic', network: 'a' } } },
        { devices: { eth0: { type: 'nic', network: 'b' } } },
      ],
      {},
    );
    expect(out.eth0).toEqual({ type: 'nic', network: 'b' });
  });

  it('returns copies, so editing the result leaves profiles alone', () => {
    const profile = { devices: { root: { ...root } } };
    const out = expandDevices([profile], {});
    out.root!.pool = 'other';
    expect(profile.devices.root.pool).toBe('default');
  });
});

describe('expand', () => {
  it('expands config and devices together', () => {
    expect(
      expand(
        [
          {
            config: { 'limits.memory': '1GiB' },
            devices: { root: { type: 'disk', path: '/', pool: 'p' } },
          },
        ],
        {
          config: { 'limits.cpu': '2' },
          devices: {},
        },
      ),
    ).toEqual({
      config: { 'limits.memory': '1GiB', 'limits.cpu': '2' },
      devices: { root: { type: 'disk', path: '/', pool: 'p' } },
    });
  });
});
