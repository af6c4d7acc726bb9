import { describe, expect, it } from 'vitest';
import { planDiskHotplug } from './disk-hotplug.ts';

const root = { type: 'disk', path: '/', pool: 'default' };
const share = { type: 'disk', source: '/srv/share', path: '/mnt/share' };

describe('planDiskHotplug', () => {
  it('attaches an added disk and leaves the root disk and other devices alone', () => {
    const plan = planDiskHotplug(
      { root, eth0: { type: 'nic', network: 'berthbr0' } },
      { root, eth0: { type: 'nic', network: 'berthbr0' }, share },
    );
    expect(plan).toEqual({
      detach: [],
      attach: [
        {
          name: 'share',
          source: '/srv/share',
          path: '/mnt/share',
          readonly: false,
          recursive: false,
          optional: false,
        },
      ],
    });
  });

  it('detaches a removed disk', () => {
    const plan = planDiskHotplug({ root, share }, { root });
    expect(plan.attach).toEqual([]);
    expect(plan.detach.map((d) => [d.name, d.path])).toEqual([['share', '/mnt/share']]);
  });

  it('takes a changed disk out and puts it back with its new settings', () => {
    const plan = planDiskHotplug(
      { share },
      { share: { ...share, path: '/data', readonly: 'true' } },
    );
    expect(plan.detach.map((d) => d.path)).toEqual(['/mnt/share']);
    expect(plan.attach.map((d) => [d.path, d.readonly])).toEqual([['/data', true]]);
  });

  it('changes nothing when the disks are the same', () => {
    expect(planDiskHotplug({ root, share }, { share: { ...share }, root })).toEqual({
      detach: [],
      attach: [],
    });
  });

  it('knows a custom volume by its pool, a host path by its slash', () => {
    const plan = planDiskHotplug(
      {},
      {
        vol: { type: 'disk', pool: 'default', source: 'v1', path: '/mnt/v1' },
        host: {
          type: 'disk',
          pool: 'default',
          source: '/srv/x',
          path: '/mnt/x',
          required: 'false',
        },
      },
    );
    expect(plan.attach.map((d) => [d.name, d.pool, d.optional])).toEqual([
      ['vol', 'default', false],
      ['host', undefined, true],
    ]);
  });
});
