import { describe, expect, it } from 'vitest';
import {
  configFrom,
  configKeyOfField,
  configRowProblems,
  deviceDraftProblems,
  deviceOfField,
  devicesFrom,
  devicesOf,
  newRow,
  rowsFrom,
} from './config-rows.ts';

const container = { profile: false, instanceType: 'container' as const };

describe('config rows', () => {
  it('round-trips a config map, skipping what the caller hides', () => {
    const rows = rowsFrom({ 'limits.cpu': '2', 'volatile.x': 'y' }, (k) =>
      k.startsWith('volatile.'),
    );
    expect(configFrom(rows)).toEqual({ 'limits.cpu': '2' });
  });

  it("reports the engine's verdict under the key, empty and duplicate keys", () => {
    const bad = newRow('limits.memory', 'lots');
    const dup1 = newRow('limits.cpu', '2');
    const dup2 = newRow('limits.cpu', '3');
    const empty = newRow('', 'x');
    const ok = newRow('user.note', 'hello');
    const problems = configRowProblems([bad, dup1, dup2, empty, ok], container);
    expect(problems[bad.id]).toMatch(/Invalid value/);
    expect(problems[dup2.id]).toMatch(/set twice/);
    expect(problems[dup1.id]).toBeUndefined();
    expect(problems[empty.id]).toBe('Enter a key');
    expect(problems[ok.id]).toBeUndefined();
  });

  it('refuses volatile keys and, in profiles, image keys', () => {
    const v = newRow('volatile.foo', '1');
    expect(configRowProblems([v], container)[v.id]).toMatch(/Volatile/);
    const i = newRow('image.os', 'busybox');
    expect(configRowProblems([i], { profile: true })[i.id]).toMatch(/Image keys/);
    expect(configRowProblems([i], container)[i.id]).toBeUndefined();
  });

  it('reads the key out of an engine error field', () => {
    expect(configKeyOfField('config["limits.cpu"]')).toBe('limits.cpu');
    expect(configKeyOfField('put.config["a.b"]')).toBe('a.b');
    expect(configKeyOfField('name')).toBeNull();
    expect(deviceOfField('devices["eth0"]["mtu"]')).toEqual(['eth0', 'mtu']);
    expect(deviceOfField('devices["root"]')).toEqual(['root', null]);
  });
});

describe('device drafts', () => {
  it('round-trips devices and reports problems by device and key', () => {
    const drafts = devicesFrom({ eth0: { type: 'nic', mtu: '100', network: 'berthbr0' } });
    expect(devicesOf(drafts)).toEqual({ eth0: { type: 'nic', mtu: '100', network: 'berthbr0' } });
    expect(deviceDraftProblems(drafts, container).eth0?.mtu).toMatch(/MTU/);
  });

  it('needs a name for every device, once', () => {
    const drafts = [
      ...devicesFrom({ d: { type: 'none' } }),
      { id: 'x', name: 'd', type: 'none', rows: [] },
      { id: 'y', name: '', type: 'none', rows: [] },
    ];
    const problems = deviceDraftProblems(drafts, container);
    expect(problems.d?.['']).toMatch(/twice/);
    expect(problems['']?.['']).toMatch(/name/);
  });
});
