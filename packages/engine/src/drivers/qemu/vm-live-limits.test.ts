import { describe, expect, it } from 'vitest';
import {
  cpuCountChange,
  cpuDeviceId,
  memoryChange,
  memoryTarget,
  planCpus,
  type HotpluggableCpu,
} from './vm-live-limits.ts';

const MIB = 1024 * 1024;
const slot = (socket: number, present: boolean): HotpluggableCpu => ({
  type: 'qemu64-x86_64-cpu',
  'vcpus-count': 1,
  props: { 'socket-id': socket, 'core-id': 0, 'thread-id': 0 },
  ...(present ? { 'qom-path': `/machine/unattached/device[${socket}]` } : {}),
});

describe('cpuCountChange (LXD 5.0.2 refusals)', () => {
  it('takes counts, unset as one vCPU', () => {
    expect(cpuCountChange('1', '3')).toBe(3);
    expect(cpuCountChange(undefined, undefined)).toBe(1);
    expect(cpuCountChange('4', '')).toBe(1);
  });
  it('refuses to leave or enter pinning while running', () => {
    expect(() => cpuCountChange('0-1', '2')).toThrow(
      'Cannot update key "limits.cpu" when using CPU pinning and the VM is running',
    );
    expect(() => cpuCountChange('2', '0,1')).toThrow(
      'Cannot change CPU pinning when VM is running',
    );
  });
});

describe('planCpus', () => {
  const cpus = [slot(3, false), slot(0, true), slot(1, true), slot(2, false)];
  it('fills the lowest free slots', () => {
    expect(planCpus(cpus, 4).add.map((c) => c.props['socket-id'])).toEqual([2, 3]);
    expect(planCpus(cpus, 3).add.map(cpuDeviceId)).toEqual(['cpu2-0-0']);
    expect(planCpus(cpus, 2)).toEqual({ add: [], remove: [] });
  });
  it('unplugs the highest vCPUs, never vCPU 0', () => {
    const all = cpus.map((c) => slot(c.props['socket-id']!, true));
    expect(planCpus(all, 2).remove.map((c) => c.props['socket-id'])).toEqual([3, 2]);
    expect(planCpus(all, 1).remove).toHaveLength(3);
    expect(planCpus(all, 1).remove.some((c) => c.props['socket-id'] === 0)).toBe(false);
  });
  it('refuses more vCPUs than the VM has slots, in LXD words', () => {
    expect(() => planCpus(cpus, 5)).toThrow('Cannot allocate more CPUs than available');
  });
});

describe('memory through the balloon', () => {
  it('sizes the target in whole MiB, a percentage of the host', () => {
    expect(memoryTarget('128MiB', 8192 * MIB)).toBe(128 * MIB);
    expect(memoryTarget('25%', 8192 * MIB)).toBe(2048 * MIB);
  });
  it('does nothing at the current size, and refuses beyond the boot size (LXD 5.0.2 words)', () => {
    expect(memoryChange(256 * MIB, 256 * MIB, 256 * MIB)).toBeNull();
    expect(memoryChange(128 * MIB, 256 * MIB, 256 * MIB)).toEqual({});
    expect(memoryChange(256 * MIB, 256 * MIB, 128 * MIB)).toEqual({});
    expect(memoryChange(512 * MIB, 256 * MIB, 256 * MIB)?.refuse).toBe(
      'Cannot increase memory size beyond boot time size when VM is running (Boot time size 256MiB, new size 512MiB)',
    );
  });
});
