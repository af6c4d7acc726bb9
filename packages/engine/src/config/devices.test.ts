import { describe, expect, it } from 'vitest';
import { isEngineError } from '../errors';
import {
  deviceKeyHints,
  deviceNameProblem,
  deviceProblems,
  deviceTypes,
  rootDiskOf,
  validDevices,
  type ValidDevicesOptions,
} from './devices';
import { CONTAINER, PROFILE, VM, problemOf } from './devices.test-helpers';

const ROOT = { type: 'disk', path: '/', pool: 'default' };
const ETH0 = { type: 'nic', nictype: 'bridged', parent: 'berthbr0', name: 'eth0' };

describe('device names (LXD IsDeviceName, minus "/")', () => {
  it.each(['root', 'eth0', 'a', 'my-disk_2', 'disk:1', 'nic.0', 'x'.repeat(63)])(
    'accepts %j',
    (name) => {
      expect(deviceNameProblem(name)).toBeUndefined();
    },
  );
  it.each([
    ['', 'Name must be 1-63 characters long'],
    ['x'.repeat(64), 'Name must be 1-63 characters long'],
    ['.hidden', 'Name must not start with "." character'],
    ['a/b', 'Name cannot contain "/"'],
    ['a b', 'Name can only contain alphanumeric'],
    ['é', 'Name can only contain alphanumeric'],
    ['a*', 'Name can only contain alphanumeric'],
  ])('refuses %j', (name, reason) => {
    expect(deviceNameProblem(name)).toContain(reason);
  });
  it('names the device in the error', () => {
    expect(problemOf({ 'a/b': { type: 'none' } })).toBe(
      'devices["a/b"]: Invalid device name: Name cannot contain "/" (it is used in host paths)',
    );
  });
});

describe('device types and keys', () => {
  it('refuses a missing or unknown type, naming the device', () => {
    expect(problemOf({ x: {} })).toBe('devices["x"]["type"]: Missing device type');
    expect(problemOf({ gpu0: { type: 'gpu' } })).toBe(
      'devices["gpu0"]["type"]: Unsupported device type "gpu" (Berth supports disk, nic, unix-char, proxy, none)',
    );
  });

  it.each([
    ['disk', { ...ROOT, bogus: '1' }],
    ['nic', { ...ETH0, bogus: '1' }],
    ['unix-char', { type: 'unix-char', path: '/dev/x', bogus: '1' }],
    [
      'proxy',
      { type: 'proxy', listen: 'tcp:127.0.0.1:80', connect: 'tcp:127.0.0.1:80', bogus: '1' },
    ],
    ['none', { type: 'none', bogus: '1' }],
  ])('refuses an unknown %s key, naming device and key', (type, device) => {
    expect(problemOf({ dev: device })).toBe(
      `devices["dev"]["bogus"]: Invalid device option "bogus" for ${type} devices`,
    );
  });

  it('lets user.* keys through on any device, as LXD', () => {
    expect(
      problemOf({ root: { ...ROOT, 'user.note': 'x' }, hide: { type: 'none', 'user.why': 'y' } }),
    ).toBeUndefined();
  });

  it('refuses nictype on non-NIC devices', () => {
    expect(problemOf({ root: { ...ROOT, nictype: 'bridged' } })).toContain(
      'Invalid device option "nictype" for disk devices',
    );
  });

  it('has a description and validator for every key', () => {
    for (const [type, def] of Object.entries(deviceTypes)) {
      expect(def.description, type).not.toBe('');
      for (const [key, keyDef] of Object.entries(def.keys)) {
        expect(keyDef.description, `${type}.${key}`).not.toBe('');
        if (keyDef.default !== undefined)
          expect(keyDef.validate.safeParse(keyDef.default).success, `${type}.${key}`).toBe(true);
      }
    }
  });
});

describe('disk', () => {
  it.each([
    [{ root: ROOT }],
    [{ root: { ...ROOT, size: '10GiB' } }],
    [
      {
        root: {
          ...ROOT,
          size: '20GB',
          'limits.read': '100iops',
          'limits.write': '10MB',
          'limits.max': '5MiB',
        },
      },
    ],
    [
      {
        data: {
          type: 'disk',
          source: '/srv/data',
          path: '/mnt/data',
          readonly: 'true',
          propagation: 'rslave',
        },
      },
    ],
    [
      {
        data: {
          type: 'disk',
          source: '/srv/data',
          path: '/mnt/data',
          recursive: 'true',
          required: 'false',
        },
      },
    ],
    [{ data: { type: 'disk', source: '/srv/data', path: '/mnt/data', shift: 'true' } }],
    [{ vol: { type: 'disk', pool: 'default', source: 'myvol', path: '/mnt/vol' } }],
  ])('accepts %j', (devices) => {
    expect(problemOf(devices)).toBeUndefined();
  });

  it.each([
    [
      { d: { type: 'disk' } },
      'devices["d"]["source"]: Disk entry is missing the required "source" or "path" property',
    ],
    [
      { d: { type: 'disk', path: '/mnt' } },
      'devices["d"]["source"]: Disk entry is missing the required "source" or "path" property',
    ],
    [
      { d: { type: 'disk', path: '/' } },
      'devices["d"]["pool"]: Root disk entry must have a "pool" property set',
    ],
    [
      { d: { type: 'disk', path: '/', source: '/srv', pool: 'p' } },
      'devices["d"]["source"]: Root disk entry may not have a "source" property set',
    ],
    [
      { d: { type: 'disk', source: '/srv', path: '/mnt', size: '1GiB' } },
      'devices["d"]["size"]: Only the root disk may have a size quota',
    ],
    [
      { d: { type: 'disk', source: '/srv', path: '/mnt', 'size.state': '1GiB' } },
      'Only the root disk may have a migration size quota',
    ],
    [{ d: { ...ROOT, size: '1.5GB' } }, 'devices["d"]["size"]: Invalid value: 1.5GB'],
    [
      { d: { ...ROOT, readonly: 'maybe' } },
      'devices["d"]["readonly"]: Invalid value for a boolean "maybe"',
    ],
    [{ d: { ...ROOT, 'limits.read': 'fast' } }, 'devices["d"]["limits.read"]: Invalid value: fast'],
    [
      { d: { type: 'disk', source: 'srv', path: '/mnt' } },
      'devices["d"]["source"]: Source path must be absolute for local sources',
    ],
    [
      { d: { type: 'disk', source: '/srv', path: 'mnt' } },
      'devices["d"]["path"]: Must be an absolute path "mnt"',
    ],
    [
      { d: { type: 'disk', source: '/srv' } },
      'devices["d"]["path"]: Disk devices on containers need a "path" to mount at',
    ],
    [
      { d: { type: 'disk', pool: 'p', source: '/abs', path: '/mnt' } },
      'Storage volumes cannot be specified as absolute paths',
    ],
    [
      { d: { type: 'disk', pool: 'p', source: 'v', path: '/mnt', shift: 'true' } },
      'The "shift" property cannot be used with custom storage volumes',
    ],
    [
      { d: { type: 'disk', pool: 'a/b', source: 'v', path: '/mnt' } },
      'devices["d"]["pool"]: A pool name cannot contain "/"',
    ],
    [
      { d: { type: 'disk', source: 'ceph:pool/vol', path: '/mnt' } },
      'Ceph disk sources are not supported by Berth',
    ],
    [
      { d: { type: 'disk', source: '/srv', path: '/mnt', propagation: 'weird' } },
      'devices["d"]["propagation"]: Invalid value "weird"',
    ],
    [
      { d: { type: 'disk', source: '/srv', path: '/mnt', required: 'true', optional: 'false' } },
      'Cannot use both "required" and deprecated "optional"',
    ],
    [
      { d: { type: 'disk', source: '/srv', path: '/mnt', recursive: 'true', readonly: 'true' } },
      "Recursive read-only bind-mounts aren't currently supported",
    ],
    [
      { d: { ...ROOT, recursive: 'true' } },
      'The recursive option is only supported for additional bind-mounted paths',
    ],
    [
      { d: { type: 'disk', source: '/srv', path: '/mnt', 'boot.priority': '-1' } },
      'devices["d"]["boot.priority"]: Invalid value for uint32 "-1"',
    ],
    [
      {
        a: { type: 'disk', source: '/srv/a', path: '/mnt' },
        b: { type: 'disk', source: '/srv/b', path: '/mnt' },
      },
      'devices["a"]["path"]: More than one disk device uses the same path "/mnt"',
    ],
  ])('refuses %j', (devices, message) => {
    expect(problemOf(devices)).toContain(message);
  });

  it('takes cloud-init:config on VMs only, without a path', () => {
    expect(problemOf({ ci: { type: 'disk', source: 'cloud-init:config' } }, VM)).toBeUndefined();
    expect(problemOf({ ci: { type: 'disk', source: 'cloud-init:config' } })).toContain(
      'is for virtual machines only',
    );
    expect(
      problemOf({ ci: { type: 'disk', source: 'cloud-init:config', path: '/x' } }, VM),
    ).toContain('cannot have a "path"');
  });

  it('lets a VM take a host path as a block device (no path)', () => {
    expect(problemOf({ img: { type: 'disk', source: '/srv/disk.img' } }, VM)).toBeUndefined();
  });
});

describe('nic', () => {
  it.each([
    [{ eth0: ETH0 }],
    [{ eth0: { type: 'nic', network: 'berthbr0' } }],
    [
      {
        eth0: {
          ...ETH0,
          hwaddr: '00:16:3e:aa:bb:cc',
          mtu: '1500',
          host_name: 'vethabc',
          vlan: '10',
        },
      },
    ],
    [
      {
        eth0: {
          type: 'nic',
          network: 'berthbr0',
          'ipv4.address': '10.0.3.10',
          'ipv6.address': 'fd42::10',
        },
      },
    ],
    [
      {
        eth0: {
          ...ETH0,
          'ipv4.routes': '192.168.10.0/24, 192.168.11.0/24',
          'ipv6.routes': 'fd43::/64',
        },
      },
    ],
    [
      {
        eth0: {
          ...ETH0,
          'limits.ingress': '10Mbit',
          'limits.egress': '1Gbit',
          'limits.max': '100',
        },
      },
    ],
    [
      {
        eth0: {
          ...ETH0,
          'security.mac_filtering': 'true',
          'security.ipv4_filtering': 'true',
          'boot.priority': '1',
        },
      },
    ],
  ])('accepts %j', (devices) => {
    expect(problemOf(devices)).toBeUndefined();
  });

  it.each([
    [{ n: { type: 'nic' } }, 'devices["n"]["nictype"]: Required value when "network" is not set'],
    [
      { n: { type: 'nic', nictype: 'bridged' } },
      'devices["n"]["parent"]: Required value for a bridged NIC',
    ],
    [
      { n: { type: 'nic', nictype: 'macvlan', parent: 'eth0' } },
      'devices["n"]["nictype"]: Invalid value "macvlan" (not one of "bridged")',
    ],
    [
      { n: { type: 'nic', network: 'net', nictype: 'bridged' } },
      'devices["n"]["nictype"]: Cannot use "nictype" property in conjunction with "network" property',
    ],
    [
      { n: { type: 'nic', network: 'net', parent: 'br0' } },
      'Cannot use "parent" property in conjunction with "network" property',
    ],
    [
      { n: { type: 'nic', network: 'net', mtu: '1500' } },
      'Cannot use "mtu" property in conjunction with "network" property',
    ],
    [
      { n: { ...ETH0, hwaddr: '00:16:3e:00:00' } },
      'devices["n"]["hwaddr"]: Invalid MAC address, must be 6 bytes of hex separated by colons',
    ],
    [{ n: { ...ETH0, hwaddr: '01:00:5e:00:00:01' } }, 'MAC address must be unicast'],
    [{ n: { ...ETH0, mtu: '1000' } }, 'devices["n"]["mtu"]: Out of MTU range (1280-16384) "1000"'],
    [{ n: { ...ETH0, mtu: 'big' } }, 'Invalid MTU "big"'],
    [{ n: { ...ETH0, vlan: '4095' } }, 'Out of VLAN ID range (0-4094) "4095"'],
    [
      { n: { ...ETH0, name: 'this-name-is-too-long' } },
      'devices["n"]["name"]: Network interface is too long (maximum 15 characters)',
    ],
    [
      { n: { ...ETH0, parent: 'br 0' } },
      'devices["n"]["parent"]: Network interface contains invalid characters',
    ],
    [
      { n: { ...ETH0, 'ipv4.address': '10.0.0.256' } },
      'devices["n"]["ipv4.address"]: Not an IPv4 address "10.0.0.256"',
    ],
    [{ n: { ...ETH0, 'ipv6.address': '10.0.0.1' } }, 'Not an IPv6 address "10.0.0.1"'],
    [
      { n: { ...ETH0, 'ipv4.routes': '10.0.0.1/24' } },
      'Item "10.0.0.1/24": Not an IPv4 network address',
    ],
    [
      { n: { ...ETH0, 'limits.ingress': '10MB' } },
      'devices["n"]["limits.ingress"]: Unsupported suffix: MB',
    ],
    [
      { n: { ...ETH0, 'security.ipv4_filtering': 'true', vlan: '5' } },
      'devices["n"]["vlan"]: IP filtering cannot be used with VLAN filtering',
    ],
    [{ a: ETH0, b: { ...ETH0 } }, 'devices["a"]["name"]: Duplicate NIC name detected "eth0"'],
  ])('refuses %j', (devices, message) => {
    expect(problemOf(devices)).toContain(message);
  });
});

describe('unix-char', () => {
  it.each([
    [{ tty: { type: 'unix-char', source: '/dev/ttyUSB0' } }],
    [
      {
        tty: {
          type: 'unix-char',
          path: '/dev/net/tun',
          major: '10',
          minor: '200',
          uid: '1000',
          gid: '1000',
          mode: '0666',
        },
      },
    ],
    [{ tty: { type: 'unix-char', source: '/dev/ttyS0', path: '/dev/ttyS1', required: 'false' } }],
  ])('accepts %j', (devices) => {
    expect(problemOf(devices)).toBeUndefined();
  });

  it.each([
    [
      { t: { type: 'unix-char' } },
      'devices["t"]["source"]: Unix device entry is missing the required "source" or "path" property',
    ],
    [
      { t: { type: 'unix-char', source: 'dev/tty' } },
      'devices["t"]["source"]: Must be an absolute path',
    ],
    [
      { t: { type: 'unix-char', path: '/dev/x', major: '-1' } },
      'devices["t"]["major"]: Invalid value for a UNIX device number',
    ],
    [
      { t: { type: 'unix-char', path: '/dev/x', minor: 'x' } },
      'devices["t"]["minor"]: Invalid value for a UNIX device number',
    ],
    [
      { t: { type: 'unix-char', path: '/dev/x', uid: 'root' } },
      'devices["t"]["uid"]: Invalid value for a UNIX ID',
    ],
    [
      { t: { type: 'unix-char', path: '/dev/x', gid: '4294967296' } },
      'devices["t"]["gid"]: Invalid value for a UNIX ID',
    ],
    [
      { t: { type: 'unix-char', path: '/dev/x', mode: '0999' } },
      'devices["t"]["mode"]: Invalid value for an octal file mode',
    ],
  ])('refuses %j', (devices, message) => {
    expect(problemOf(devices)).toContain(message);
  });

  it("is for containers only; skipped in a VM's expanded devices, accepted in profiles", () => {
    const devices = { tty: { type: 'unix-char', path: '/dev/ttyS0' } };
    expect(problemOf(devices, VM)).toBe(
      'devices["tty"]["type"]: unix-char devices are only supported on containers',
    );
    expect(problemOf({ ...devices, root: ROOT }, { ...VM, expanded: true })).toBeUndefined();
    expect(problemOf(devices, PROFILE)).toBeUndefined();
  });
});

describe('none', () => {
  it('takes no keys', () => {
    expect(problemOf({ eth0: { type: 'none' } })).toBeUndefined();
    expect(problemOf({ eth0: { type: 'none', path: '/' } })).toContain(
      'Invalid device option "path" for none devices',
    );
  });
});

describe('expanded devices', () => {
  const EXPANDED: ValidDevicesOptions = { ...CONTAINER, expanded: true };

  it('need exactly one root disk', () => {
    expect(problemOf({ root: ROOT, eth0: ETH0 }, EXPANDED)).toBeUndefined();
    expect(problemOf({ eth0: ETH0 }, EXPANDED)).toBe(
      'devices: No root device could be found (a disk device with path=/ and a pool)',
    );
    const twoRoots = { root: ROOT, root2: { ...ROOT, pool: 'other' } };
    expect(problemOf(twoRoots, EXPANDED)).toBe(
      'devices["root"]["path"]: More than one disk device uses the same path "/"',
    );
    expect(deviceProblems(twoRoots, EXPANDED).map((problem) => problem.reason)).toContain(
      'More than one root device found: root, root2',
    );
    // Profiles and local devices need no root disk.
    expect(problemOf({ eth0: ETH0 }, PROFILE)).toBeUndefined();
    expect(problemOf({ eth0: ETH0 })).toBeUndefined();
  });

  it('rootDiskOf finds it', () => {
    expect(rootDiskOf({ root: ROOT, eth0: ETH0 })).toEqual(['root', ROOT]);
    expect(rootDiskOf({ eth0: ETH0 })).toBeUndefined();
  });

  it('reports every problem in device order', () => {
    const problems = deviceProblems(
      { z: { type: 'bogus' }, a: { type: 'nic', mtu: '1', junk: '1' } },
      CONTAINER,
    );
    expect(problems.map((problem) => problem.field)).toEqual([
      'devices["a"]["junk"]',
      'devices["a"]["mtu"]',
      'devices["z"]["type"]',
    ]);
  });

  it('throws an INVALID_ARGUMENT EngineError with the field', () => {
    try {
      validDevices({ eth0: { ...ETH0, mtu: '100' } }, CONTAINER);
      expect.unreachable();
    } catch (error) {
      expect(isEngineError(error, 'INVALID_ARGUMENT')).toBe(true);
      if (isEngineError(error)) {
        expect(error.field).toBe('devices["eth0"]["mtu"]');
        expect(error.message).toBe('devices["eth0"]["mtu"]: Out of MTU range (1280-16384) "100"');
      }
    }
  });
});

describe('deviceKeyHints', () => {
  it("lists a type's keys", () => {
    const hints = deviceKeyHints('proxy');
    expect(hints.find((hint) => hint.key === 'listen')).toMatchObject({
      required: true,
      type: 'address',
    });
    expect(hints.find((hint) => hint.key === 'bind')).toMatchObject({
      required: false,
      default: 'host',
    });
    expect(deviceKeyHints('none')).toEqual([]);
  });
});
