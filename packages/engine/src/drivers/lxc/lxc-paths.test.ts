import { describe, expect, it } from 'vitest';
import {
  containerName,
  containerPaths,
  lxcLayout,
  parseContainerName,
  vethName,
} from './lxc-paths.ts';
import { parseLxcInfo } from './init-pid.ts';
import { instanceIdmap } from './instance-idmap.ts';

describe('names and paths', () => {
  it('names containers as LXD does and parses them back', () => {
    expect(containerName('default', 'c1')).toBe('default_c1');
    expect(parseContainerName('default_c1')).toEqual({ project: 'default', name: 'c1' });
    expect(parseContainerName('my_proj_c1')).toEqual({ project: 'my_proj', name: 'c1' });
    expect(parseContainerName('nounderscore')).toBeUndefined();
    expect(parseContainerName('trailing_')).toBeUndefined();
  });

  it('lays out lxcpath, logs and cgroups under the data dir', () => {
    const layout = lxcLayout('/var/lib/berth/');
    expect(layout.lxcPath).toBe('/var/lib/berth/lxc');
    expect(layout.hookSpool).toBe('/var/lib/berth/lxc/hooks.spool');
    const paths = containerPaths(layout, 'p', 'c');
    expect(paths).toMatchObject({
      name: 'p_c',
      config: '/var/lib/berth/lxc/p_c/config',
      lxcLog: '/var/lib/berth/logs/p_c/lxc.log',
      consoleLog: '/var/lib/berth/logs/p_c/console.log',
      cgroupPayload: `berth-${layout.engineId}.payload/p_c`,
    });
    expect(() => lxcLayout('/tmp/my data')).toThrow(/white space/);
  });

  it('makes short, stable, distinct veth names', () => {
    const a = lxcLayout('/a');
    const b = lxcLayout('/b');
    expect(vethName(a, 'p_c', 'eth0')).toMatch(/^vb[0-9a-f]{11}$/);
    expect(vethName(a, 'p_c', 'eth0')).toBe(vethName(a, 'p_c', 'eth0'));
    expect(vethName(a, 'p_c', 'eth0')).not.toBe(vethName(b, 'p_c', 'eth0'));
    expect(vethName(a, 'p_c', 'eth0')).not.toBe(vethName(a, 'p_c', 'eth1'));
  });
});

describe('parseLxcInfo', () => {
  it.each([
    ['RUNNING\n1234\n', { state: 'RUNNING', pid: 1234 }],
    ['State:          STOPPED\n', { state: 'STOPPED', pid: 0 }],
    ['FROZEN\n99\n', { state: 'FROZEN', pid: 99 }],
    ['', { state: 'STOPPED', pid: 0 }],
  ])('%j', (text, info) => {
    expect(parseLxcInfo(text)).toEqual(info);
  });
});

describe('instanceIdmap', () => {
  const files = { subuid: 'root:1000000:1000000000\n', subgid: 'root:1000000:1000000000\n' };

  it('is null for a privileged container', () => {
    expect(
      instanceIdmap({ 'security.privileged': 'true', 'raw.idmap': 'both 0 0' }, files),
    ).toBeNull();
  });

  it("maps root's first range", () => {
    expect(instanceIdmap({}, files)?.toLxc()).toEqual(['u 0 1000000 65536', 'g 0 1000000 65536']);
  });

  it('merges raw.idmap within what root may map', () => {
    expect(instanceIdmap({ 'raw.idmap': 'uid 2000000 33' }, files)?.toHost('uid', 33)).toBe(
      2000000,
    );
  });

  it('refuses host root and undelegated ids, naming raw.idmap', () => {
    expect(() => instanceIdmap({ 'raw.idmap': 'both 0 1000' }, files)).toThrow(/Cannot map root/);
    expect(() => instanceIdmap({ 'raw.idmap': 'both 5000 1000' }, files)).toThrow(
      /not delegated to root in \/etc\/subuid \(add "root:5000:1"/,
    );
    expect(() => instanceIdmap({ 'raw.idmap': 'gid 5000 1000' }, files)).toThrow(/\/etc\/subgid/);
  });

  it('says what to do without subordinate ranges', () => {
    expect(() => instanceIdmap({}, { subuid: '', subgid: '' })).toThrow(/\/etc\/subuid/);
  });
});
