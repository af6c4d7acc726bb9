// Whether a container runs, and its init pid, without spawning anything
// when we can: the pid recorded at start (`init.pid`, "0" when known
// stopped) is checked against /proc and the container's own cgroup, so a
// reused pid cannot pass. Anything else (no record, a dead pid, a reboot
// inside that changed the pid) asks lxc-info and records its answer. This
// keeps status and listing at file-read cost rather than ~5 ms per
// container (notes §6).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { InstanceStatus } from '../../schemas/index.ts';
import { CGROUP_ROOT, ProcessCgroups } from './cgroup-state.ts';
import { runLxc } from './lxc-command.ts';
import type { ContainerPaths, LxcLayout } from './lxc-paths.ts';

export interface LxcInfo {
  state: string;
  pid: number;
}

/**
 * `lxc-info -s -p -H` output: `RUNNING\n1234` for a running container, but
 * `State:          STOPPED` (labelled despite -H) for a stopped one.
 */
export function parseLxcInfo(text: string): LxcInfo {
  const info: LxcInfo = { state: 'STOPPED', pid: 0 };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^(State|PID):\s*/, '').trim();
    if (/^[0-9]+$/.test(line)) info.pid = Number(line);
    else if (/^[A-Z]+$/.test(line)) info.state = line;
  }
  return info;
}

function freezerState(pid: number): string | undefined {
  try {
    return ProcessCgroups.ofPid(pid).readText('freezer', 'freezer.state');
  } catch {
    return undefined;
  }
}

/** LXC's state as the API names it. */
export function statusOf(info: LxcInfo): InstanceStatus {
  switch (info.state) {
    case 'RUNNING': {
      // Frozen by writing freezer.state: lxc-info keeps saying RUNNING (notes §6).
      const freezer = info.pid > 0 ? freezerState(info.pid) : undefined;
      if (freezer === 'FROZEN') return 'Frozen';
      if (freezer === 'FREEZING') return 'Freezing';
      return 'Running';
    }
    case 'STARTING':
      return 'Starting';
    case 'STOPPING':
    case 'ABORTING':
      return 'Stopping';
    case 'FROZEN':
      return 'Frozen';
    case 'FREEZING':
      return 'Freezing';
    case 'THAWED':
      return 'Running';
    default:
      return 'Stopped';
  }
}

export class InitPids {
  readonly #layout: LxcLayout;
  readonly #cgroupBases: readonly string[];

  constructor(layout: LxcLayout, cgroupBases: readonly string[]) {
    this.#layout = layout;
    this.#cgroupBases = cgroupBases;
  }

  /** The container's state, from the record when it still holds, else from lxc-info. */
  async info(paths: ContainerPaths): Promise<LxcInfo> {
    const recorded = this.recorded(paths);
    if (recorded === 0) return { state: 'STOPPED', pid: 0 };
    if (recorded !== undefined && this.isOurs(paths, recorded))
      return { state: 'RUNNING', pid: recorded };
    const info = await this.ask(paths);
    this.record(
      paths,
      info.state === 'STOPPED' ? 0 : info.state === 'RUNNING' ? info.pid : undefined,
    );
    return info;
  }

  #file(paths: ContainerPaths): string {
    return path.join(paths.dir, 'init.pid');
  }

  recorded(paths: ContainerPaths): number | undefined {
    try {
      const pid = Number(readFileSync(this.#file(paths), 'utf8').trim());
      return Number.isInteger(pid) && pid >= 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Records the init pid (0: stopped; undefined: unknown, forget it). */
  record(paths: ContainerPaths, pid: number | undefined): void {
    try {
      if (pid === undefined) rmSync(this.#file(paths), { force: true });
      else if (existsSync(paths.dir)) writeFileSync(this.#file(paths), `${pid}\n`);
    } catch {
      // Only a cache: the next status asks lxc-info.
    }
  }

  /** Whether `pid` lives in this container's own cgroup. */
  isOurs(paths: ContainerPaths, pid: number): boolean {
    try {
      const needle = `/${paths.cgroupPayload}`;
      // Whole path segments: default_c1 must not match default_c10.
      return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .some((line) => line.endsWith(needle) || line.includes(`${needle}/`));
    } catch {
      return false;
    }
  }

  /**
   * The init pid of a container that just started, from its own freezer
   * cgroup (the process whose innermost pid is 1) rather than from
   * lxc-info: spawning a command from the engine costs ≈ 15 ms of its main
   * thread. `undefined` when it cannot tell (then ask lxc-info).
   */
  find(paths: ContainerPaths): number | undefined {
    for (const base of this.#cgroupBases) {
      let procs: string;
      try {
        procs = readFileSync(
          path.join(CGROUP_ROOT, 'freezer', base, paths.cgroupPayload, 'cgroup.procs'),
          'utf8',
        );
      } catch {
        continue;
      }
      for (const line of procs.split('\n')) {
        const pid = Number(line);
        if (!Number.isInteger(pid) || pid <= 0) continue;
        try {
          const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
          const ids = nspid?.trim().split(/\s+/) ?? [];
          if (ids.length > 1 && ids.at(-1) === '1' && this.isOurs(paths, pid)) return pid;
        } catch {
          // gone meanwhile
        }
      }
    }
    return undefined;
  }

  /** The init pid of a running container, from files only (`undefined`: not running, or cannot tell). */
  running(paths: ContainerPaths): number | undefined {
    const recorded = this.recorded(paths);
    return recorded !== undefined && recorded > 0 && this.isOurs(paths, recorded)
      ? recorded
      : this.find(paths);
  }

  /** What lxc-info says (a spawn: the slow way). */
  async ask(paths: ContainerPaths): Promise<LxcInfo> {
    const result = await runLxc(this.#layout, 'lxc-info', paths, ['-s', '-p', '-H'], {
      timeoutMs: 10_000,
      allowFailure: true,
    });
    if (result.exitCode !== 0) return { state: 'STOPPED', pid: 0 };
    return parseLxcInfo(result.stdout);
  }
}
