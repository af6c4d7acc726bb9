// The qemu-system-x86_64 command line of one VM. Pure: paths, limits and the
// accelerator come in; the argument array goes out (never a shell string).
import { parseCpuLimit, parseMemory } from '../../config/index.ts';
import { EngineError } from '../../errors.ts';
import type { ConfigMap } from '../../schemas/index.ts';
import type { VmPaths } from './qemu-paths.ts';
import { firmwareArgs, type VmFirmware } from './vm-firmware.ts';

export type Accelerator = 'kvm' | 'tcg';

/** LXD's VM defaults: 1 vCPU, 1 GiB. */
export const DEFAULT_VM_CPUS = 1;
export const DEFAULT_VM_MEMORY_BYTES = 1024 * 1024 * 1024;

const MIB = 1024 * 1024;

/** `limits.cpu`: a count gives that many vCPUs; a set ("0-3", "1,3") as many as it names. */
export function vmCpus(config: ConfigMap): number {
  const value = config['limits.cpu'];
  if (!value) return DEFAULT_VM_CPUS;
  const limit = parseCpuLimit(value);
  return limit.kind === 'set' ? limit.cpus.length : limit.count;
}

/**
 * The vCPU slots a VM boots with, for `limits.cpu` changes while it runs
 * (LXD: as many as the host has CPUs, `maxcpus`); a set pins, so it has no
 * spare slots (undefined), as LXD refuses to change pinning live.
 */
export function vmMaxCpus(config: ConfigMap, hostCpus: number): number | undefined {
  const value = config['limits.cpu'];
  if (value && parseCpuLimit(value).kind === 'set') return undefined;
  return Math.max(vmCpus(config), hostCpus);
}

/** The balloon device's QOM id. */
export const BALLOON_ID = 'balloon0';

/** `limits.memory` in bytes; a percentage is of the host's memory. */
export function vmMemoryBytes(config: ConfigMap, hostMemoryBytes: number): number {
  const value = config['limits.memory'];
  if (!value) return DEFAULT_VM_MEMORY_BYTES;
  const limit = parseMemory(value);
  const bytes =
    limit.kind === 'bytes' ? limit.bytes : Math.floor((hostMemoryBytes * limit.percent) / 100);
  // QEMU sizes RAM in MiB at least; round up so the guest never gets less than asked.
  return Math.max(MIB, Math.ceil(bytes / MIB) * MIB);
}

/** The virtio-serial port qemu-guest-agent opens in the guest. */
export const AGENT_PORT_NAME = 'org.qemu.guest_agent.0';

export interface QemuNicArgs {
  device: string;
  tap: string;
  hwaddr: string;
}

/** A host directory exported over 9p (vm-shares.ts names and checks it). */
export interface QemuShareArgs {
  device: string;
  /** The fsdev's id; the PCI device is `dev-<id>`. */
  id: string;
  /** What the guest mounts (`mount -t 9p <tag> <path>`), at most 31 bytes. */
  tag: string;
  /** The resolved host directory. */
  source: string;
  readonly: boolean;
}

/** A custom block volume's raw disk as a virtio disk (vm-shares.ts, vm-block-hotplug.ts). */
export interface QemuBlockDiskArgs {
  device: string;
  /** The block node is `drive-<id>`, the PCI device `dev-<id>`. */
  id: string;
  /** What the guest reads in /sys/block/vdX/serial. */
  serial: string;
  file: string;
  readonly: boolean;
  /** The PCIe root port it sits on (`hotplugPort`), so it can be unplugged while the VM runs. */
  port: string;
}

/** The id of the `index`-th PCIe root port volume disks are plugged into. */
export const hotplugPort = (index: number): string => `hp${index}`;

/** Free root ports a VM gets beyond its disks at start, for disks attached while it runs. */
export const SPARE_HOTPLUG_PORTS = 4;

/** The raw block node of a volume disk, by QMP's `blockdev-add` (options as on the command line). */
export function blockNodeOptions(disk: QemuBlockDiskArgs): Record<string, unknown> {
  return {
    driver: 'raw',
    'node-name': `drive-${disk.id}`,
    'read-only': disk.readonly,
    discard: 'unmap',
    file: { driver: 'file', filename: disk.file, 'read-only': disk.readonly, discard: 'unmap' },
  };
}

/** Its virtio-blk device on its root port, by QMP's `device_add`. */
export function blockDeviceOptions(disk: QemuBlockDiskArgs): Record<string, unknown> {
  return {
    driver: 'virtio-blk-pci',
    id: `dev-${disk.id}`,
    drive: `drive-${disk.id}`,
    serial: disk.serial,
    bus: disk.port,
  };
}

/** `-device`'s form: the driver first, then its properties. */
function deviceArg(options: Record<string, unknown>): string {
  const { driver, ...properties } = options;
  return [String(driver), ...dottedOptions(properties)].join(',');
}

/** `key=value,...` of QMP-shaped options, nested objects as dotted keys, as -blockdev and -device take them. */
function dottedOptions(options: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(options).flatMap(([key, value]) =>
    value !== null && typeof value === 'object'
      ? dottedOptions(value as Record<string, unknown>, `${prefix}${key}.`)
      : [
          `${prefix}${key}=${optionValue(typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value))}`,
        ],
  );
}

/** QEMU refuses a longer mount_tag. */
export const MAX_SHARE_TAG = 31;

export interface QemuArgsInput {
  paths: VmPaths;
  accel: Accelerator;
  cpus: number;
  memoryBytes: number;
  /** vCPU slots for hotplug (`-smp cpus=N,maxcpus=M`, vmMaxCpus); none when pinned to a set. */
  maxCpus?: number;
  /** Direct kernel boot; without it the VM boots from its root disk (the firmware's boot order). */
  kernel?: { kernel: string; initrd?: string; cmdline: string };
  /** UEFI (OVMF on pflash, vm-firmware.ts) for a VM that boots from its disk; without it, QEMU's SeaBIOS. */
  firmware?: VmFirmware;
  /** The root disk (a qcow2 overlay, root-disk.ts). */
  rootDisk?: string;
  nics?: readonly QemuNicArgs[];
  shares?: readonly QemuShareArgs[];
  blockDisks?: readonly QemuBlockDiskArgs[];
  /** PCIe root ports for volume disks, `hotplugPort(0…n-1)`: those the disks use and spares. */
  hotplugPorts?: number;
  uuid?: string;
  /** Waits for a saved state instead of booting (vm-saved-state.ts). */
  incoming?: boolean;
}

/** Characters QEMU's option parser treats specially in a `key=value,...` value. */
function optionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

export function buildQemuArgs(input: QemuArgsInput): string[] {
  const { paths } = input;
  const args = [
    '-name',
    `${optionValue(paths.name)},debug-threads=on`,
    '-machine',
    // SMM on for Secure Boot: Debian's secboot OVMF requires it (vm-firmware.ts).
    `q35,accel=${input.accel}${input.firmware?.secureBoot ? ',smm=on' : ''}`,
    ...(input.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-smp',
    input.maxCpus && input.maxCpus > input.cpus
      ? `cpus=${input.cpus},maxcpus=${input.maxCpus}`
      : String(input.cpus),
    '-m',
    `${Math.ceil(input.memoryBytes / MIB)}M`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    // The serial console: a socket the engine (and one client) attaches to,
    // with everything the guest prints kept in console.log even when nobody is attached.
    '-chardev',
    `socket,id=console,path=${optionValue(paths.consoleSocket)},server=on,wait=off,logfile=${optionValue(paths.consoleLog)},logappend=on`,
    '-serial',
    'chardev:console',
    '-chardev',
    `socket,id=qmp,path=${optionValue(paths.qmpSocket)},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
    // The guest agent's channel: a virtio-serial port the engine's QGA client reaches through a socket.
    // LXD's balloon: limits.memory lowers (and raises back up to the boot size) on a running VM (vm-live-limits.ts).
    '-device',
    `virtio-balloon-pci,id=${BALLOON_ID}`,
    '-device',
    'virtio-serial-pci,id=virtio-serial0',
    '-chardev',
    `socket,id=qga,path=${optionValue(paths.qgaSocket)},server=on,wait=off`,
    '-device',
    `virtserialport,bus=virtio-serial0.0,chardev=qga,name=${AGENT_PORT_NAME}`,
    // The graphical console: a standard VGA card (its text mode and VESA
    // framebuffer need no guest driver, so any kernel draws on it), whose
    // screen QEMU serves as VNC on a unix socket in the runtime dir; the
    // engine hands that stream to the web console's noVNC (vm-vnc.ts).
    // `-display none` above only means no window on the host.
    '-device',
    'VGA,id=vga',
    '-vnc',
    `unix:${optionValue(paths.vncSocket)}`,
  ];
  if (input.rootDisk) {
    args.push(
      '-drive',
      `file=${optionValue(input.rootDisk)},format=qcow2,if=none,id=drive-root,cache=writeback,discard=unmap`,
      '-device',
      // First in the firmware's boot order, unless a kernel is booted directly (its option ROM takes bootindex 0).
      `virtio-blk-pci,drive=drive-root,id=root${input.kernel ? '' : ',bootindex=0'}`,
    );
  }
  for (const nic of input.nics ?? []) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(nic.tap))
      throw EngineError.invalid(
        `devices["${nic.device}"]["host_name"]`,
        `"${nic.tap}" is not an interface name`,
      );
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(nic.hwaddr))
      throw EngineError.invalid(
        `devices["${nic.device}"]["hwaddr"]`,
        `"${nic.hwaddr}" is not a MAC address`,
      );
    const id = `net-${nic.device.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    args.push(
      '-netdev',
      `tap,id=${id},ifname=${nic.tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,netdev=${id},mac=${nic.hwaddr.toLowerCase()},id=dev-${id}`,
    );
  }
  for (const share of input.shares ?? []) {
    if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(share.id))
      throw EngineError.invalid(`devices["${share.device}"]`, `"${share.id}" is not a QEMU id`);
    if (!/^[A-Za-z0-9_.-]+$/.test(share.tag) || share.tag.length > MAX_SHARE_TAG)
      throw EngineError.invalid(
        `devices["${share.device}"]`,
        `"${share.tag}" is not a 9p mount tag (at most ${MAX_SHARE_TAG} of A-Z a-z 0-9 _ . -)`,
      );
    if (!share.source.startsWith('/'))
      throw EngineError.invalid(
        `devices["${share.device}"]["source"]`,
        'Source path must be absolute for local sources',
      );
    // 9p with no daemon: QEMU itself serves the directory (security model: vm-shares.ts).
    // passthrough: the guest's uids and modes land on the host as they are;
    // multidevs=remap: inode numbers stay unique across mounts below the source;
    // readonly=on: QEMU refuses every write, whatever the guest mounts it as.
    args.push(
      '-fsdev',
      `local,id=${share.id},path=${optionValue(share.source)},security_model=passthrough,multidevs=remap${share.readonly ? ',readonly=on' : ''}`,
      '-device',
      `virtio-9p-pci,id=dev-${share.id},fsdev=${share.id},mount_tag=${share.tag}`,
    );
  }
  // Root ports after the root disk, NICs and shares: the guest finds what sits behind
  // them after those (the root disk stays vda, whatever is plugged later).
  for (let i = 0; i < (input.hotplugPorts ?? 0); i++)
    args.push('-device', `pcie-root-port,id=${hotplugPort(i)},chassis=${i + 1}`);
  for (const disk of input.blockDisks ?? []) {
    if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(disk.id))
      throw EngineError.invalid(`devices["${disk.device}"]`, `"${disk.id}" is not a QEMU id`);
    if (!/^[A-Za-z0-9_.-]{1,20}$/.test(disk.serial))
      throw EngineError.invalid(
        `devices["${disk.device}"]`,
        `"${disk.serial}" is not a virtio disk serial`,
      );
    if (!disk.file.startsWith('/'))
      throw EngineError.invalid(`devices["${disk.device}"]["source"]`, 'the disk must be a path');
    if (!/^hp[0-9]+$/.test(disk.port))
      throw EngineError.invalid(`devices["${disk.device}"]`, `"${disk.port}" is not a root port`);
    // raw named, never probed: what the guest writes on it cannot make it a qcow2 naming host files.
    args.push(
      '-blockdev',
      dottedOptions(blockNodeOptions(disk)).join(','),
      '-device',
      deviceArg(blockDeviceOptions(disk)),
    );
  }
  if (input.firmware && !input.kernel) args.push(...firmwareArgs(input.firmware));
  if (input.kernel) {
    args.push('-kernel', input.kernel.kernel);
    if (input.kernel.initrd) args.push('-initrd', input.kernel.initrd);
    args.push('-append', input.kernel.cmdline);
  }
  args.push('-pidfile', paths.pidFile, '-D', paths.qemuLog, '-daemonize');
  if (input.uuid) args.push('-uuid', input.uuid);
  if (input.incoming) args.push('-incoming', 'defer');
  return args;
}

export const DEFAULT_CMDLINE = 'console=ttyS0 panic=-1 quiet';
