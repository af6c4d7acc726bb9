// The forwarder processes of containers' proxy devices (plans: proxy-plan.ts).
// Each runs detached in its own session, so it outlives the engine as the
// container does; `<runtime dir>/<device>.json` records its pids with their
// command lines, and nothing is killed unless /proc shows that exact command
// line (a pid reused by another process is left alone). A new engine finds
// the records and respawns what died; a stopped container's forwarders go.
import { spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { EngineError } from '../../errors.ts';
import { sleep } from '../driver-common.ts';
import { HOST_ENV } from './exec.ts';
import type { ContainerPaths } from './lxc-paths.ts';
import { planProxy, proxyDevices, type ForwarderSpec, type ProxyPlan } from './proxy-plan.ts';

const READY_TIMEOUT_MS = 3_000;
const EXIT_TIMEOUT_MS = 2_000;

interface RunningForwarder {
  pid: number;
  cmdline: string[];
}

/** One device's record: the config it was started from, for which init, and its processes. */
interface DeviceRecord {
  config: Record<string, string>;
  initPid: number;
  processes: RunningForwarder[];
}

function sameConfig(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/** Alive and running exactly `cmdline` (a zombie counts as gone). */
function isOurs(process: RunningForwarder): boolean {
  try {
    const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') return false;
    const cmdline = readFileSync(`/proc/${process.pid}/cmdline`, 'utf8');
    return cmdline === `${process.cmdline.join('\0')}\0`;
  } catch {
    return false;
  }
}

/** Whether `pid` holds a listening tcp or unix socket (in its own network namespace). */
export function hasListeningSocket(pid: number): boolean {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const match = /^socket:\[([0-9]+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match?.[1]) inodes.add(match[1]);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return false;
  }
  if (inodes.size === 0) return false;
  const read = (table: string) => {
    try {
      return readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1);
    } catch {
      return [];
    }
  };
  for (const table of ['tcp', 'tcp6']) {
    for (const line of read(table)) {
      const fields = line.trim().split(/\s+/);
      // st 0A = LISTEN; the inode is the tenth column.
      if (fields[3] === '0A' && inodes.has(fields[9] ?? '')) return true;
    }
  }
  for (const line of read('unix')) {
    const fields = line.trim().split(/\s+/);
    // Flags 00010000 = __SO_ACCEPTCON (listening); the inode is the seventh column.
    if (fields[3] === '00010000' && inodes.has(fields[6] ?? '')) return true;
  }
  return false;
}

export class ProxyForwarders {
  /** One chain per container: hooks, start and update never interleave on it. */
  readonly #chains = new Map<string, Promise<unknown>>();

  runtimeDir(paths: ContainerPaths): string {
    return path.join(paths.dir, 'proxy');
  }

  #serial<T>(paths: ContainerPaths, work: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(paths.name) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => {});
    this.#chains.set(paths.name, settled);
    void settled.then(() => {
      if (this.#chains.get(paths.name) === settled) this.#chains.delete(paths.name);
    });
    return next;
  }

  #recordFile(paths: ContainerPaths, device: string): string {
    return path.join(this.runtimeDir(paths), `${device}.json`);
  }

  #logFile(paths: ContainerPaths, device: string): string {
    return path.join(paths.logDir, `proxy.${device}.log`);
  }

  #records(paths: ContainerPaths): Map<string, DeviceRecord> {
    const records = new Map<string, DeviceRecord>();
    let files: string[];
    try {
      files = readdirSync(this.runtimeDir(paths)).filter((file) => file.endsWith('.json'));
    } catch {
      return records;
    }
    for (const file of files) {
      try {
        const record = JSON.parse(
          readFileSync(path.join(this.runtimeDir(paths), file), 'utf8'),
        ) as DeviceRecord;
        records.set(file.slice(0, -'.json'.length), record);
      } catch {
        // A half-written record: its processes are unknown, nothing to kill.
        rmSync(path.join(this.runtimeDir(paths), file), { force: true });
      }
    }
    return records;
  }

  /** Whether any record exists (cheap: no /proc reads). */
  hasRecords(paths: ContainerPaths): boolean {
    try {
      return readdirSync(this.runtimeDir(paths)).some((file) => file.endsWith('.json'));
    } catch {
      return false;
    }
  }

  async #kill(processes: readonly RunningForwarder[]): Promise<void> {
    const ours = processes.filter(isOurs);
    for (const process_ of ours) {
      try {
        // The whole session: connections in flight (forked children) go too.
        process.kill(-process_.pid, 'SIGTERM');
      } catch {
        // gone meanwhile
      }
    }
    const deadline = Date.now() + EXIT_TIMEOUT_MS;
    while (ours.some(isOurs)) {
      if (Date.now() > deadline) {
        for (const process_ of ours.filter(isOurs)) {
          try {
            process.kill(-process_.pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
        break;
      }
      await sleep(5);
    }
  }

  async #stopDevice(paths: ContainerPaths, device: string, record: DeviceRecord): Promise<void> {
    await this.#kill(record.processes);
    rmSync(this.#recordFile(paths, device), { force: true });
  }

  #spawn(paths: ContainerPaths, device: string, spec: ForwarderSpec): RunningForwarder {
    const log = openSync(this.#logFile(paths, device), 'a', 0o600);
    try {
      const [command = '', ...args] = spec.argv;
      const child = spawn(command, args, {
        detached: true,
        stdio: ['ignore', 'ignore', log],
        env: HOST_ENV as NodeJS.ProcessEnv,
      });
      child.on('error', () => {});
      child.unref();
      if (child.pid === undefined)
        throw new EngineError('INTERNAL', `devices["${device}"]: could not run ${command}`);
      return { pid: child.pid, cmdline: spec.cmdline };
    } finally {
      closeSync(log);
    }
  }

  #logTail(paths: ContainerPaths, device: string): string {
    try {
      return readFileSync(this.#logFile(paths, device), 'utf8')
        .trim()
        .split('\n')
        .slice(-3)
        .join('\n');
    } catch {
      return '';
    }
  }

  /** Starts one device's forwarders in order, each listening before the next starts. */
  async #startDevice(
    paths: ContainerPaths,
    plan: ProxyPlan,
    config: Record<string, string>,
    initPid: number,
  ): Promise<void> {
    mkdirSync(this.runtimeDir(paths), { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    const record: DeviceRecord = { config, initPid, processes: [] };
    const save = () =>
      writeFileSync(this.#recordFile(paths, plan.device), JSON.stringify(record), { mode: 0o600 });
    try {
      for (const spec of plan.forwarders) {
        const forwarder = this.#spawn(paths, plan.device, spec);
        // Recorded before waiting: a failed start still knows what to kill.
        record.processes.push(forwarder);
        save();
        const deadline = Date.now() + READY_TIMEOUT_MS;
        // nsenter execs socat: until then /proc shows nsenter's command line.
        while (!(isOurs(forwarder) && hasListeningSocket(forwarder.pid))) {
          const gone = (() => {
            try {
              const stat = readFileSync(`/proc/${forwarder.pid}/stat`, 'utf8');
              return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
            } catch {
              return true;
            }
          })();
          if (gone || Date.now() > deadline) {
            const tail = this.#logTail(paths, plan.device);
            throw new EngineError(
              'INTERNAL',
              `devices["${plan.device}"]: the forwarder for ${config.listen} → ${config.connect} ${gone ? 'exited' : 'did not listen in time'}${tail ? `: ${tail}` : ''}`,
            );
          }
          await sleep(3);
        }
      }
    } catch (error) {
      await this.#stopDevice(paths, plan.device, record);
      throw error;
    }
  }

  /**
   * Makes the forwarders match the container's proxy devices: removed or
   * changed devices stop, new ones start. Every device is planned first, so
   * a bad one changes nothing.
   */
  async sync(
    paths: ContainerPaths,
    initPid: number,
    devices: Record<string, Record<string, string>>,
  ): Promise<void> {
    const plans = proxyDevices(devices).map(([name, device]) => ({
      config: device,
      plan: planProxy(name, device, { initPid, runtimeDir: this.runtimeDir(paths) }),
    }));
    return this.#serial(paths, async () => {
      const records = this.#records(paths);
      const wanted = new Map(plans.map((entry) => [entry.plan.device, entry]));
      for (const [device, record] of records) {
        const want = wanted.get(device);
        const current =
          want !== undefined &&
          record.initPid === initPid &&
          sameConfig(record.config, want.config) &&
          record.processes.every(isOurs);
        if (current) wanted.delete(device);
        else await this.#stopDevice(paths, device, record);
      }
      for (const { plan, config } of wanted.values())
        await this.#startDevice(paths, plan, config, initPid);
    });
  }

  /**
   * Forwarders follow the container when it stops or reboots by itself: a
   * stop ends them, a reboot ends them and its start (a new init, a new
   * network namespace) brings them back from their records.
   */
  followHook(
    paths: ContainerPaths,
    type: 'started' | 'stopping' | 'stopped',
    pid: number | undefined,
    target: 'stop' | 'reboot' | undefined,
  ): void {
    if (!this.hasRecords(paths)) return;
    const done = (work: Promise<void>) => void work.catch(() => {});
    if (type === 'stopped') done(this.stopAll(paths, { keepRecords: target === 'reboot' }));
    else if (type === 'started' && pid !== undefined) done(this.restore(paths, pid));
  }

  /**
   * After an engine restart or a reboot inside the container: respawns the
   * recorded devices whose forwarders died or serve an old init. Failures
   * go to the device's log (nobody is waiting for them).
   */
  restore(paths: ContainerPaths, initPid: number): Promise<void> {
    return this.#serial(paths, async () => {
      for (const [device, record] of this.#records(paths)) {
        if (record.initPid === initPid && record.processes.every(isOurs)) continue;
        await this.#stopDevice(paths, device, record);
        try {
          const plan = planProxy(device, record.config, {
            initPid,
            runtimeDir: this.runtimeDir(paths),
          });
          await this.#startDevice(paths, plan, record.config, initPid);
        } catch (error) {
          try {
            writeFileSync(
              this.#logFile(paths, device),
              `berth: could not restore the forwarder: ${error instanceof Error ? error.message : String(error)}\n`,
              { flag: 'a' },
            );
          } catch {
            // no log directory any more
          }
        }
      }
    });
  }

  /** Stops every forwarder of the container (`keepRecords`: to restore them after a reboot). */
  stopAll(paths: ContainerPaths, options: { keepRecords?: boolean } = {}): Promise<void> {
    return this.#serial(paths, async () => {
      for (const [device, record] of this.#records(paths)) {
        if (options.keepRecords) await this.#kill(record.processes);
        else await this.#stopDevice(paths, device, record);
      }
    });
  }
}
