// The LXC config of one container, generated from scratch at every start
// from the expanded config and devices (LXD's driver_lxc.go initLXC). Pure:
// everything the host decides (bridges, CPUs, RAM, whether a bind source is a
// directory) comes in as input. Recipe: docs/notes/lxc-host.md §2.
import { isTrue, parseCpuLimit, parseMemory, parseRawLxc } from '../../config/index.ts';
import { EngineError } from '../../errors.ts';
import type { DeviceMap } from '../../schemas/index.ts';
import { devicesOf } from '../driver-common.ts';
import type { HostFacts } from '../host-facts.ts';
import type { IdmapSet } from '../../validation/index.ts';
import type { DriverInstance } from '../driver.ts';
import type { ContainerPaths } from './lxc-paths.ts';
import { checkProxyDevices } from './proxy-plan.ts';
import type { ResolvedUnixDevice } from './unix-devices.ts';

/** A NIC with its bridge resolved (managed networks through `ensureNetwork`). */
export interface ResolvedNic {
  /** The device's key in `devices`. */
  device: string;
  /** Interface name inside the container. */
  name: string;
  bridge: string;
  hostName: string;
  hwaddr?: string;
  mtu?: number;
}

export interface LxcConfigInput {
  instance: Pick<DriverInstance, 'name' | 'expandedConfig' | 'expandedDevices' | 'paths'>;
  paths: ContainerPaths;
  hookScript: string;
  /** `null`: privileged (no user namespace). */
  idmap: IdmapSet | null;
  nics: readonly ResolvedNic[];
  host: HostFacts;
  /** Whether a bind-mount source is a directory (else a file); default: directory. */
  isDirectory?: (source: string) => boolean;
  /** unix-char nodes made on the host (unix-devices.ts); none at create. */
  unixDevices?: readonly ResolvedUnixDevice[];
  /**
   * Host folders of the custom volumes `disk` devices attach (`pool` +
   * `source`), by device, resolved and id-shifted at start; absent at
   * create, when such disks are left for the start's config.
   */
  volumeSources?: ReadonlyMap<string, string>;
}

/** Signal busybox init and sysvinit halt on (LXC's and LXD's default too). */
export const HALT_SIGNAL = 'SIGPWR';

// The device nodes every container may use (null, zero, full, random, urandom,
// tty, console, ptmx, pts/*), as LXD allows them.
const ALLOWED_DEVICES = [
  'c *:* m',
  'b *:* m',
  'c 1:3 rwm',
  'c 1:5 rwm',
  'c 1:7 rwm',
  'c 1:8 rwm',
  'c 1:9 rwm',
  'c 5:0 rwm',
  'c 5:1 rwm',
  'c 5:2 rwm',
  'c 136:* rwm',
  'c 10:229 rwm', // fuse
  'c 10:200 rwm', // tun
];

class ConfigWriter {
  readonly lines: string[] = [];

  set(key: string, value: string | number, field = key): void {
    const text = String(value);
    // One value per line: a newline would smuggle in another key.
    if (/[\n\r\0]/.test(text)) throw EngineError.invalid(field, 'must not contain a line break');
    this.lines.push(`${key} = ${text}`);
  }

  comment(text: string): void {
    this.lines.push('', `# ${text}`);
  }
}

/** fstab escaping for `lxc.mount.entry` fields (space, tab, backslash). */
export function escapeMountField(value: string): string {
  return value.replace(
    /[\\ \t]/g,
    (char) => `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`,
  );
}

/** CPUs `limits.cpu` pins to: a count takes the first N (all when N ≥ the host's). */
export function cpusetFor(value: string, hostCpus: number): string | undefined {
  const limit = parseCpuLimit(value);
  if (limit.kind === 'set') return limit.cpus.join(',');
  if (limit.count >= hostCpus) return undefined;
  return limit.count === 1 ? '0' : `0-${limit.count - 1}`;
}

export function memoryLimitBytes(value: string, hostMemoryBytes: number): number {
  const limit = parseMemory(value);
  if (limit.kind === 'bytes') return limit.bytes;
  return Math.floor((hostMemoryBytes * limit.percent) / 100);
}

function processesLimit(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) {
    throw EngineError.invalid(
      'config["limits.processes"]',
      `must be a positive integer, got "${value}"`,
    );
  }
  return Number(value);
}

/**
 * Proxy options the forwarder cannot honour are refused (NOT_IMPLEMENTED,
 * naming the key) here, at create and start, rather than silently ignored.
 * Proxies themselves are processes (proxy.ts), not config lines.
 */
function unsupportedDevices(devices: DeviceMap): void {
  checkProxyDevices(devices);
}

function writeUnixDevices(out: ConfigWriter, devices: readonly ResolvedUnixDevice[]): void {
  for (const device of devices) {
    const field = `devices["${device.device}"]`;
    out.set('lxc.cgroup.devices.allow', `c ${device.major}:${device.minor} rwm`, field);
    const dest = device.path.replace(/^\/+/, '');
    out.set(
      'lxc.mount.entry',
      `${escapeMountField(device.node)} ${escapeMountField(dest)} none bind,create=file 0 0`,
      `${field}["path"]`,
    );
  }
}

function rootDisk(devices: DeviceMap): void {
  const roots = Object.entries(devices).filter(([, d]) => d.type === 'disk' && d.path === '/');
  if (roots.length > 1) {
    throw EngineError.invalid(
      'devices',
      `only one root disk is allowed (${roots.map(([n]) => n).join(', ')})`,
    );
  }
}

function writeDisks(out: ConfigWriter, input: LxcConfigInput): void {
  const isDirectory = input.isDirectory ?? (() => true);
  for (const [name, disk] of devicesOf(input.instance.expandedDevices, 'disk')) {
    if (disk.path === '/') continue;
    const field = `devices["${name}"]`;
    let source = disk.source ?? '';
    if (disk.pool && source !== '' && !source.startsWith('/')) {
      // A custom volume: its folder on the pool, resolved by the driver at start.
      if (input.volumeSources === undefined) continue;
      const resolved = input.volumeSources.get(name);
      if (resolved === undefined)
        throw new EngineError('INTERNAL', `${field}: custom volume "${source}" was not resolved`);
      source = resolved;
    }
    if (!source.startsWith('/')) {
      throw new EngineError(
        'NOT_IMPLEMENTED',
        `${field}: only host paths can be bind-mounted into containers so far`,
      );
    }
    if (!disk.path || !disk.path.startsWith('/'))
      throw EngineError.invalid(`${field}.path`, 'must be an absolute path');
    const dest = disk.path.replace(/^\/+/, '').replace(/\/+$/, '');
    if (dest.split('/').includes('..'))
      throw EngineError.invalid(`${field}.path`, 'must not contain ".."');
    const options = [
      isTrue(disk.recursive) ? 'rbind' : 'bind',
      isDirectory(source) ? 'create=dir' : 'create=file',
    ];
    if (isTrue(disk.readonly)) options.push('ro');
    // required=false (or the old optional=true): a missing source is no error.
    if (disk.required === 'false' || isTrue(disk.optional)) options.push('optional');
    if (disk.propagation) options.push(disk.propagation);
    out.set(
      'lxc.mount.entry',
      `${escapeMountField(source)} ${escapeMountField(dest)} none ${options.join(',')} 0 0`,
      `${field}.source`,
    );
  }
}

function writeNics(out: ConfigWriter, nics: readonly ResolvedNic[]): void {
  nics.forEach((nic, index) => {
    const key = `lxc.net.${index}`;
    out.set(`${key}.type`, 'veth');
    out.set(`${key}.link`, nic.bridge);
    out.set(`${key}.name`, nic.name);
    out.set(`${key}.flags`, 'up');
    out.set(`${key}.veth.pair`, nic.hostName);
    if (nic.hwaddr) out.set(`${key}.hwaddr`, nic.hwaddr);
    if (nic.mtu) out.set(`${key}.mtu`, nic.mtu);
  });
}

/** The config file's text. Throws INVALID_ARGUMENT / NOT_IMPLEMENTED naming the key or device. */
export function renderLxcConfig(input: LxcConfigInput): string {
  const { instance, paths, idmap } = input;
  const config = instance.expandedConfig;
  const out = new ConfigWriter();
  rootDisk(instance.expandedDevices);
  unsupportedDevices(instance.expandedDevices);

  out.lines.push(`# Generated by Berth for ${paths.name}; rewritten at every start.`);
  out.set('lxc.uts.name', instance.name);
  out.set('lxc.rootfs.path', `dir:${instance.paths.rootfs}`);
  out.set('lxc.init.cmd', '/sbin/init');
  out.set('lxc.signal.halt', HALT_SIGNAL);
  out.set('lxc.signal.reboot', 'SIGTERM');
  out.set('lxc.autodev', 1);
  out.set('lxc.tty.max', 1);
  out.set('lxc.pty.max', 1024);
  out.set('lxc.mount.entry', 'shm dev/shm tmpfs defaults,create=dir 0 0');
  out.set('lxc.cap.drop', 'sys_module mac_admin mac_override sys_time sys_rawio');

  out.comment('Logs');
  out.set('lxc.log.file', paths.lxcLog);
  out.set('lxc.log.level', 'warn');
  out.set('lxc.console.logfile', paths.consoleLog);

  out.comment('Hooks: one spool line per event (hooks.ts)');
  out.set('lxc.hook.version', 1);
  out.set('lxc.hook.start-host', input.hookScript);
  out.set('lxc.hook.stop', input.hookScript);
  out.set('lxc.hook.post-stop', input.hookScript);

  out.comment('cgroups: per engine, so no other engine (or LXD) shares them');
  out.set('lxc.cgroup.dir.container', paths.cgroupPayload);
  out.set('lxc.cgroup.dir.monitor', paths.cgroupMonitor);
  out.set('lxc.cgroup.devices.deny', 'a');
  for (const rule of ALLOWED_DEVICES) out.set('lxc.cgroup.devices.allow', rule);

  const nesting = isTrue(config['security.nesting']);
  out.comment(nesting ? 'Mounts (security.nesting)' : 'Mounts');
  if (nesting) {
    out.set('lxc.mount.auto', 'proc:rw sys:rw cgroup:rw:force');
    // A nested LXC needs the real /proc and /sys under the container's own.
    out.set('lxc.mount.entry', '/proc dev/.lxc/proc proc create=dir,optional 0 0');
    out.set('lxc.mount.entry', '/sys dev/.lxc/sys sysfs create=dir,optional 0 0');
  } else {
    // `cgroup:mixed` alone mounts nothing under a cgroup namespace (notes §2).
    out.set('lxc.mount.auto', 'proc:mixed sys:mixed cgroup:mixed:force');
  }

  if (idmap !== null) {
    out.comment('Unprivileged: the id map');
    for (const line of idmap.toLxc()) out.set('lxc.idmap', line);
  }

  const limits: [string, string | number][] = [];
  if (config['limits.cpu']) {
    const cpus = cpusetFor(config['limits.cpu'], input.host.cpus);
    if (cpus !== undefined) limits.push(['lxc.cgroup.cpuset.cpus', cpus]);
  }
  if (config['limits.memory']) {
    limits.push([
      'lxc.cgroup.memory.limit_in_bytes',
      memoryLimitBytes(config['limits.memory'], input.host.memoryBytes),
    ]);
  }
  if (config['limits.processes']) {
    limits.push(['lxc.cgroup.pids.max', processesLimit(config['limits.processes'])]);
  }
  if (limits.length > 0) {
    out.comment('Limits');
    for (const [key, value] of limits) out.set(key, value);
  }

  const environment = Object.entries(config)
    .filter(([key]) => key.startsWith('environment.'))
    .sort(([a], [b]) => a.localeCompare(b));
  if (environment.length > 0) {
    out.comment('environment.*');
    for (const [key, value] of environment) {
      out.set(
        'lxc.environment',
        `${key.slice('environment.'.length)}=${value}`,
        `config["${key}"]`,
      );
    }
  }

  if (input.nics.length > 0) {
    out.comment('NICs');
    writeNics(out, input.nics);
  }

  const diskLines = new ConfigWriter();
  writeDisks(diskLines, input);
  if (diskLines.lines.length > 0) {
    out.comment('Disks');
    out.lines.push(...diskLines.lines);
  }

  if (input.unixDevices !== undefined && input.unixDevices.length > 0) {
    out.comment('unix-char devices: nodes made on the host, bind-mounted');
    writeUnixDevices(out, input.unixDevices);
  }

  const raw = config['raw.lxc'] ?? '';
  if (raw.trim() !== '') {
    out.comment('raw.lxc (last, so it wins)');
    for (const entry of parseRawLxc(raw, { unprivilegedOnly: idmap !== null }))
      out.set(entry.key, entry.value);
  }
  return `${out.lines.join('\n')}\n`;
}
