// The qemu-system-x86_64 command line of one VM. Pure: paths, limits and the
// accelerator come in; the argument array goes out (never a shell string).
import { parseCpuLimit, parseMemory } from '../../config/index.ts';
import type { ConfigMap } from '../../schemas/index.ts';
import type { VmPaths } from './qemu-paths.ts';

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

export interface QemuArgsInput {
  paths: VmPaths;
  accel: Accelerator;
  cpus: number;
  memoryBytes: number;
  kernel: string;
  initrd: string;
  /** Kernel command line; `console=ttyS0` is always first. */
  cmdline: string;
  uuid?: string;
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
    `q35,accel=${input.accel}`,
    ...(input.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-smp',
    String(input.cpus),
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
    '-kernel',
    input.kernel,
    '-initrd',
    input.initrd,
    '-append',
    input.cmdline,
    '-pidfile',
    paths.pidFile,
    '-D',
    paths.qemuLog,
    '-daemonize',
  ];
  if (input.uuid) args.push('-uuid', input.uuid);
  return args;
}

export const DEFAULT_CMDLINE = 'console=ttyS0 panic=-1 quiet';
