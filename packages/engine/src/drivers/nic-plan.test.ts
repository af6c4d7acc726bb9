import { describe, expect, it } from 'vitest';
import { planNics, resolveBridge } from './nic-plan.ts';

describe('planNics', () => {
  it('plans NICs from devices: parent or network, MAC from the device or volatile', () => {
    const plans = planNics(
      { 'volatile.eth0.hwaddr': '02:16:3e:aa:bb:cc', 'volatile.lan.hwaddr': '02:16:3e:00:00:09' },
      {
        root: { type: 'disk', path: '/' },
        lan: {
          type: 'nic',
          nictype: 'bridged',
          parent: 'br0',
          name: 'eth1',
          hwaddr: '02:16:3e:11:11:11',
          mtu: '1450',
          host_name: 'myveth',
        },
        eth0: { type: 'nic', network: 'berthbr0' },
      },
    );
    expect(plans).toEqual([
      { device: 'eth0', name: 'eth0', network: 'berthbr0', hwaddr: '02:16:3e:aa:bb:cc' },
      {
        device: 'lan',
        name: 'eth1',
        parent: 'br0',
        hwaddr: '02:16:3e:11:11:11',
        mtu: 1450,
        hostName: 'myveth',
      },
    ]);
  });

  it('refuses NICs it cannot make', () => {
    expect(() => planNics({}, { n: { type: 'nic', nictype: 'macvlan', parent: 'eth0' } })).toThrow(
      /bridged only/,
    );
    expect(() => planNics({}, { n: { type: 'nic', nictype: 'bridged' } })).toThrow(/parent/);
  });
});

describe('resolveBridge', () => {
  const env = {
    ensureNetwork: async (name: string) => ({ bridge: `br-${name}`, mtu: 1500 }),
  };

  it('takes the parent as it is, with the device MTU only', async () => {
    expect(await resolveBridge({ device: 'n', name: 'eth0', parent: 'br0' }, env)).toEqual({
      bridge: 'br0',
    });
    expect(
      await resolveBridge({ device: 'n', name: 'eth0', parent: 'br0', mtu: 9000 }, env),
    ).toEqual({ bridge: 'br0', mtu: 9000 });
  });

  it("brings a managed network up; the device's MTU wins over the network's", async () => {
    expect(await resolveBridge({ device: 'n', name: 'eth0', network: 'lan' }, env)).toEqual({
      bridge: 'br-lan',
      mtu: 1500,
    });
    expect(
      await resolveBridge({ device: 'n', name: 'eth0', network: 'lan', mtu: 1400 }, env),
    ).toEqual({ bridge: 'br-lan', mtu: 1400 });
  });
});
