import { describe, expect, it } from 'vitest';
import { BALLOON_ID, buildQemuArgs, vmCpus, vmMaxCpus, vmMemoryBytes } from './qemu-args.ts';
import { bootFiles, vmPaths } from './qemu-paths.ts';

const GIB = 1024 ** 3;

describe('vm limits', () => {
  it('defaults to 1 vCPU and 1 GiB as LXD', () => {
    expect(vmCpus({})).toBe(1);
    expect(vmMemoryBytes({}, 8 * GIB)).toBe(GIB);
  });
  it('maps limits.cpu counts and sets to -smp', () => {
    expect(vmCpus({ 'limits.cpu': '2' })).toBe(2);
    expect(vmCpus({ 'limits.cpu': '0-3' })).toBe(4);
    expect(vmCpus({ 'limits.cpu': '1,3' })).toBe(2);
  });
  it('maps limits.memory to bytes, rounding up to MiB', () => {
    expect(vmMemoryBytes({ 'limits.memory': '256MiB' }, 8 * GIB)).toBe(256 * 1024 * 1024);
    expect(vmMemoryBytes({ 'limits.memory': '50%' }, 8 * GIB)).toBe(4 * GIB);
    expect(vmMemoryBytes({ 'limits.memory': '1000000' }, 8 * GIB)).toBe(1024 * 1024);
  });
});

describe('buildQemuArgs', () => {
  const paths = vmPaths('/var/lib/berth', 'default', 'v1');
  const boot = bootFiles('/pool/virtual-machines/default_v1/rootfs');
  const args = buildQemuArgs({
    paths,
    accel: 'tcg',
    cpus: 2,
    memoryBytes: 512 * 1024 * 1024,
    kernel: { kernel: boot.kernel, initrd: boot.initrd, cmdline: 'console=ttyS0' },
    rootDisk: '/pool/virtual-machines/default_v1/root.qcow2',
    nics: [{ device: 'eth0', tap: 'vt0123456789ab', hwaddr: '00:16:3E:12:34:56' }],
  });
  const after = (flag: string) => args[args.indexOf(flag) + 1];

  it('waits for a saved state only when asked (a stateful start)', () => {
    expect(args).not.toContain('-incoming');
    const incoming = buildQemuArgs({
      paths,
      accel: 'tcg',
      cpus: 1,
      memoryBytes: GIB,
      incoming: true,
    });
    expect(incoming[incoming.indexOf('-incoming') + 1]).toBe('defer');
  });

  it('sets accelerator, vCPUs and memory', () => {
    expect(after('-machine')).toBe('q35,accel=tcg');
    expect(after('-smp')).toBe('2');
    expect(after('-m')).toBe('512M');
    expect(args).not.toContain('-cpu');
  });
  it('puts QMP and the serial console on unix sockets, logging the console', () => {
    expect(args).toContain('chardev=qmp,mode=control');
    expect(args.join(' ')).toContain(
      'socket,id=console,path=/var/lib/berth/qemu/default_v1/console.sock,server=on,wait=off,logfile=/var/lib/berth/logs/default_v1/console.log',
    );
    expect(after('-serial')).toBe('chardev:console');
  });
  it('boots the kernel directly and daemonises with a pid file', () => {
    expect(after('-kernel')).toBe('/pool/virtual-machines/default_v1/rootfs/boot/vmlinuz');
    expect(after('-initrd')).toBe('/pool/virtual-machines/default_v1/rootfs/boot/initrd.img');
    expect(after('-pidfile')).toBe('/var/lib/berth/qemu/default_v1/qemu.pid');
    expect(args).toContain('-daemonize');
  });
  it('attaches the root disk as virtio-blk (the directly booted kernel comes first)', () => {
    expect(args).toContain(
      'file=/pool/virtual-machines/default_v1/root.qcow2,format=qcow2,if=none,id=drive-root,cache=writeback,discard=unmap',
    );
    expect(args).toContain('virtio-blk-pci,drive=drive-root,id=root');
  });
  it('puts each NIC on its tap with the MAC from volatile.<dev>.hwaddr', () => {
    expect(args).toContain('tap,id=net-eth0,ifname=vt0123456789ab,script=no,downscript=no');
    expect(args).toContain('virtio-net-pci,netdev=net-eth0,mac=00:16:3e:12:34:56,id=dev-net-eth0');
    expect(() =>
      buildQemuArgs({
        paths,
        accel: 'tcg',
        cpus: 1,
        memoryBytes: GIB,
        nics: [{ device: 'eth0', tap: 'a,b', hwaddr: '00:16:3e:12:34:56' }],
      }),
    ).toThrow(/host_name/);
  });
  it('gives the guest agent a virtio-serial port on a unix socket', () => {
    expect(args.join(' ')).toContain(
      'socket,id=qga,path=/var/lib/berth/qemu/default_v1/qga.sock,server=on,wait=off',
    );
    expect(args).toContain(
      'virtserialport,bus=virtio-serial0.0,chardev=qga,name=org.qemu.guest_agent.0',
    );
  });
  it('gives the VM a VGA screen served as VNC on a unix socket in its runtime dir', () => {
    expect(args).toContain('VGA,id=vga');
    expect(after('-vnc')).toBe('unix:/var/lib/berth/qemu/default_v1/vnc.sock');
    // No window on the host, whatever display QEMU was built with.
    expect(after('-display')).toBe('none');
  });
  it('boots from the disk when there is no kernel', () => {
    const a = buildQemuArgs({
      paths,
      accel: 'tcg',
      cpus: 1,
      memoryBytes: GIB,
      rootDisk: '/d.qcow2',
    });
    expect(a).not.toContain('-kernel');
    expect(a).not.toContain('-append');
    expect(a).toContain('virtio-blk-pci,drive=drive-root,id=root,bootindex=0');
  });
  it('doubles commas in option values', () => {
    const odd = vmPaths('/data,x', 'default', 'v1');
    const a = buildQemuArgs({
      paths: odd,
      accel: 'kvm',
      cpus: 1,
      memoryBytes: GIB,
      kernel: { kernel: 'k', initrd: 'i', cmdline: 'c' },
    });
    expect(a.join(' ')).toContain('path=/data,,x/qemu/default_v1/qmp.sock');
    expect(a[a.indexOf('-vnc') + 1]).toBe('unix:/data,,x/qemu/default_v1/vnc.sock');
    expect(a[a.indexOf('-cpu') + 1]).toBe('host');
  });
  it('exports each share as a 9p fsdev QEMU serves itself, read-only enforced by QEMU', () => {
    const a = buildQemuArgs({
      paths,
      accel: 'tcg',
      cpus: 1,
      memoryBytes: GIB,
      shares: [
        {
          device: 'share',
          id: 'fs-share',
          tag: 'berth_share',
          source: '/srv/a,b',
          readonly: false,
        },
        { device: 'ro', id: 'fs-ro', tag: 'berth_ro', source: '/srv/ro', readonly: true },
      ],
    });
    expect(a).toContain(
      'local,id=fs-share,path=/srv/a,,b,security_model=passthrough,multidevs=remap',
    );
    expect(a).toContain('virtio-9p-pci,id=dev-fs-share,fsdev=fs-share,mount_tag=berth_share');
    expect(a).toContain(
      'local,id=fs-ro,path=/srv/ro,security_model=passthrough,multidevs=remap,readonly=on',
    );
    expect(a.filter((x) => x === '-fsdev')).toHaveLength(2);
    expect(args).not.toContain('-fsdev');
  });
  it.each([
    [{ id: 'fs,x', tag: 'berth_x', source: '/srv' }, /not a QEMU id/],
    [{ id: 'fs-x', tag: 'a'.repeat(32), source: '/srv' }, /not a 9p mount tag/],
    [{ id: 'fs-x', tag: 'a,b', source: '/srv' }, /not a 9p mount tag/],
    [{ id: 'fs-x', tag: 'berth_x', source: 'srv' }, /must be absolute/],
  ])('refuses a share that would not parse: %j', (share, message) => {
    expect(() =>
      buildQemuArgs({
        paths,
        accel: 'tcg',
        cpus: 1,
        memoryBytes: GIB,
        shares: [{ device: 'x', readonly: false, ...share }],
      }),
    ).toThrow(message);
  });
  it('plugs custom block volumes as raw virtio disks with their serial into root ports made before them', () => {
    const a = buildQemuArgs({
      paths,
      accel: 'tcg',
      cpus: 1,
      memoryBytes: GIB,
      rootDisk: '/pool/v1/root.qcow2',
      blockDisks: [
        {
          device: 'data',
          id: 'vol-data',
          serial: 'data',
          file: '/pool/a,b/root.img',
          readonly: false,
          port: 'hp0',
        },
        {
          device: 'ro',
          id: 'vol-ro',
          serial: 'ro',
          file: '/pool/ro/root.img',
          readonly: true,
          port: 'hp1',
        },
      ],
      hotplugPorts: 3,
    });
    expect(a).toContain(
      'driver=raw,node-name=drive-vol-data,read-only=off,discard=unmap,file.driver=file,file.filename=/pool/a,,b/root.img,file.read-only=off,file.discard=unmap',
    );
    expect(a).toContain('virtio-blk-pci,id=dev-vol-data,drive=drive-vol-data,serial=data,bus=hp0');
    expect(a.find((x) => x.includes('node-name=drive-vol-ro'))).toContain('read-only=on');
    const ports = a.filter((x) => x.startsWith('pcie-root-port'));
    expect(ports).toEqual([
      'pcie-root-port,id=hp0,chassis=1',
      'pcie-root-port,id=hp1,chassis=2',
      'pcie-root-port,id=hp2,chassis=3',
    ]);
    // The root disk comes first (the guest's vda), the ports before the disks on them.
    const at = (text: string) => a.findIndex((x) => x.includes(text));
    expect(at('drive=drive-root')).toBeLessThan(at('id=hp0'));
    expect(at('id=hp1')).toBeLessThan(at('bus=hp0'));
    expect(() =>
      buildQemuArgs({
        paths,
        accel: 'tcg',
        cpus: 1,
        memoryBytes: GIB,
        blockDisks: [
          { device: 'x', id: 'vol-x', serial: 'a,b', file: '/x', readonly: false, port: 'hp0' },
        ],
      }),
    ).toThrow(/not a virtio disk serial/);
  });
  it('refuses socket paths too long for a unix socket', () => {
    expect(() => vmPaths(`/${'d'.repeat(100)}`, 'default', 'v1')).toThrow(/too long/);
  });
});

describe('buildQemuArgs: UEFI firmware', () => {
  const paths = vmPaths('/var/lib/berth', 'default', 'v1');
  const base = { paths, accel: 'tcg' as const, cpus: 1, memoryBytes: GIB, rootDisk: '/d.qcow2' };
  const pflash = (a: string[]) =>
    a.filter((x, i) => a[i - 1] === '-drive' && x.startsWith('if=pflash'));

  it('puts OVMF on pflash: the code read-only, the instance’s qemu.nvram writable', () => {
    const a = buildQemuArgs({
      ...base,
      firmware: {
        code: '/usr/share/OVMF/OVMF_CODE_4M.fd',
        nvram: '/pool/v1/qemu.nvram',
        secureBoot: false,
      },
    });
    expect(pflash(a)).toEqual([
      'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
      'if=pflash,format=raw,unit=1,file=/pool/v1/qemu.nvram',
    ]);
    expect(a[a.indexOf('-machine') + 1]).not.toContain('smm');
    expect(a).not.toContain('driver=cfi.pflash01,property=secure,value=on');
    expect(a).toContain('virtio-blk-pci,drive=drive-root,id=root,bootindex=0');
  });
  it('turns SMM on and secures the flash for Secure Boot (Debian’s secboot OVMF requires both)', () => {
    const a = buildQemuArgs({
      ...base,
      firmware: {
        code: '/fw/OVMF_CODE_4M.secboot.fd',
        nvram: '/pool/a,b/qemu.nvram',
        secureBoot: true,
      },
    });
    expect(a[a.indexOf('-machine') + 1]).toMatch(/^q35,accel=tcg.*,smm=on/);
    expect(a[a.indexOf('-global') + 1]).toBe('driver=cfi.pflash01,property=secure,value=on');
    expect(pflash(a)[1]).toBe('if=pflash,format=raw,unit=1,file=/pool/a,,b/qemu.nvram');
  });
  it('boots a kernel directly without firmware drives', () => {
    const a = buildQemuArgs({
      ...base,
      kernel: { kernel: 'k', cmdline: 'c' },
      firmware: { code: '/fw/c.fd', nvram: '/n', secureBoot: true },
    });
    expect(pflash(a)).toEqual([]);
    expect(a).toContain('-kernel');
  });
});

describe('buildQemuArgs: live limits (vCPU slots, balloon)', () => {
  const paths = vmPaths('/var/lib/berth', 'default', 'v1');
  const argsOf = (cpus: number, maxCpus?: number) =>
    buildQemuArgs({
      paths,
      accel: 'tcg',
      cpus,
      memoryBytes: 256 * 1024 * 1024,
      ...(maxCpus !== undefined ? { maxCpus } : {}),
    });
  const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

  it('leaves spare vCPU slots up to the host CPU count for a count, none for a pinned set', () => {
    expect(vmMaxCpus({}, 8)).toBe(8);
    expect(vmMaxCpus({ 'limits.cpu': '2' }, 8)).toBe(8);
    expect(vmMaxCpus({ 'limits.cpu': '12' }, 8)).toBe(12);
    expect(vmMaxCpus({ 'limits.cpu': '0-1' }, 8)).toBeUndefined();
    expect(after(argsOf(2, 8), '-smp')).toBe('cpus=2,maxcpus=8');
    expect(after(argsOf(2, 2), '-smp')).toBe('2');
    expect(after(argsOf(2), '-smp')).toBe('2');
  });
  it('always has a virtio balloon, so limits.memory can change while it runs', () => {
    expect(argsOf(1)).toContain(`virtio-balloon-pci,id=${BALLOON_ID}`);
    expect(after(argsOf(1), '-m')).toBe('256M');
  });
});
