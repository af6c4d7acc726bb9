// Names and host paths of one engine's LXC containers. Pure: everything is
// derived from the data directory and the instance's project and name.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { EngineError } from '../../errors.ts';

/** The LXC container name, as LXD spells it: `<project>_<name>`. */
export function containerName(project: string, name: string): string {
  return `${project}_${name}`;
}

/**
 * Back from an LXC name to project and instance. Instance names never hold
 * `_` (valid-name.ts), so the last one separates them even when a project's
 * name has one.
 */
export function parseContainerName(lxcName: string): { project: string; name: string } | undefined {
  const at = lxcName.lastIndexOf('_');
  if (at <= 0 || at === lxcName.length - 1) return undefined;
  return { project: lxcName.slice(0, at), name: lxcName.slice(at + 1) };
}

/**
 * A short id for one engine (its data directory), so that two engines on a
 * host, or LXD itself, never share a cgroup or a veth name.
 */
export function engineId(dataDir: string): string {
  return createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 8);
}

export interface LxcLayout {
  dataDir: string;
  engineId: string;
  /** `<dataDir>/lxc`: LXC's `-P`. */
  lxcPath: string;
  /** The hook script every container's config names. */
  hookScript: string;
  /** Where the hook appends one line per event. */
  hookSpool: string;
  /** cgroup parents (per hierarchy) holding this engine's payload and monitor cgroups. */
  cgroupPayloadParent: string;
  cgroupMonitorParent: string;
}

/** LXC config values cannot be quoted: a path with white space or a newline would be cut. */
function assertPlainPath(value: string, field: string): void {
  if (/[\s\0]/.test(value)) {
    throw EngineError.invalid(
      field,
      `LXC cannot use a path with white space: ${JSON.stringify(value)}`,
    );
  }
}

export function lxcLayout(dataDir: string): LxcLayout {
  const root = path.resolve(dataDir);
  assertPlainPath(root, 'dataDir');
  const id = engineId(root);
  const lxcPath = path.join(root, 'lxc');
  return {
    dataDir: root,
    engineId: id,
    lxcPath,
    hookScript: path.join(lxcPath, 'berth-hook'),
    hookSpool: path.join(lxcPath, 'hooks.spool'),
    cgroupPayloadParent: `berth-${id}.payload`,
    cgroupMonitorParent: `berth-${id}.monitor`,
  };
}

export interface ContainerPaths {
  name: string;
  /** `<lxcpath>/<name>`: holds `config`. */
  dir: string;
  config: string;
  /** `<dataDir>/logs/<name>`: lxc.log and console.log. */
  logDir: string;
  lxcLog: string;
  consoleLog: string;
  /** cgroup paths relative to each hierarchy's root. */
  cgroupPayload: string;
  cgroupMonitor: string;
}

export function containerPaths(
  layout: LxcLayout,
  project: string,
  instance: string,
): ContainerPaths {
  const name = containerName(project, instance);
  const dir = path.join(layout.lxcPath, name);
  const logDir = path.join(layout.dataDir, 'logs', name);
  return {
    name,
    dir,
    config: path.join(dir, 'config'),
    logDir,
    lxcLog: path.join(logDir, 'lxc.log'),
    consoleLog: path.join(logDir, 'console.log'),
    cgroupPayload: `${layout.cgroupPayloadParent}/${name}`,
    cgroupMonitor: `${layout.cgroupMonitorParent}/${name}`,
  };
}

/**
 * The host-side veth name of a NIC: ≤ 15 characters, stable across starts
 * (so state can name it without asking the kernel), distinct per engine.
 */
export function vethName(layout: LxcLayout, container: string, device: string): string {
  const hash = createHash('sha256')
    .update(`${layout.engineId}/${container}/${device}`)
    .digest('hex');
  return `vb${hash.slice(0, 11)}`;
}
