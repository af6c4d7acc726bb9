// The QEMU driver: virtual machines as daemonised qemu-system-x86_64
// processes, each with a runtime dir (`<dataDir>/qemu/<project>_<name>`)
// holding its pid file, its QMP socket and its serial console socket. The
// engine keeps one QMP connection per running VM; QEMU outlives the engine,
// and a new engine finds it again by pid file (checked against
// /proc/<pid>/cmdline) and reconnects to its QMP socket. Nothing is ever
// killed by name. Boots directly from `<volume>/rootfs/boot/` (see
// images/tiny-vm-image.ts); exec and files need a guest agent (not yet).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { PassThrough, Writable } from 'node:stream';
import { EngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import type { InstanceState, InstanceStatus } from '../../schemas/index.ts';
import { readConsoleLog } from '../console-log.ts';
import { DriverCommon, sleep } from '../driver-common.ts';
import type {
  ConsoleStream,
  DriverEnvironment,
  DriverInstance,
  ExecProcess,
  FileEntry,
  InstanceDriver,
  RootfsPreparation,
} from '../driver.ts';
import {
  DEFAULT_CMDLINE,
  buildQemuArgs,
  vmCpus,
  vmMemoryBytes,
  type Accelerator,
} from './qemu-args.ts';
import { bootFiles, qemuRoot, vmPaths, type VmPaths } from './qemu-paths.ts';
import { QmpClient } from './qmp-client.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';
const START_TIMEOUT_MS = 30_000;
const EXIT_WAIT_MS = 10_000;

/** utime + stime of a process in ns (from /proc/<pid>/stat; fields after the `(comm)`). */
export function cpuNsFromStat(stat: string, ticksPerSecond = 100): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? Math.round((ticks * 1e9) / ticksPerSecond) : 0;
}

/**
 * Whether a process still runs. A daemonised QEMU is reparented to the
 * host's init, which may reap late: a zombie counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export class QemuDriver extends DriverCommon implements InstanceDriver {
  readonly type = 'virtual-machine' as const;
  readonly name = 'qemu' as const;
  readonly accel: Accelerator;
  readonly #monitors = new Map<string, Promise<QmpClient>>();
  /** VMs being stopped by us: their exit is not news. */
  readonly #stopping = new Set<string>();
  readonly #consoles = new Set<string>();
  #closed = false;

  constructor(env: DriverEnvironment, accel: Accelerator) {
    super(env);
    this.accel = accel;
    mkdirSync(qemuRoot(env.dataDir), { recursive: true, mode: 0o700 });
    this.#reattach();
  }

  paths(instance: Pick<DriverInstance, 'project' | 'name'>): VmPaths {
    return vmPaths(this.env.dataDir, instance.project, instance.name);
  }

  /** After an engine restart: reconnect to every VM still running, so its exit is noticed. */
  #reattach(): void {
    let names: string[];
    try {
      names = readdirSync(qemuRoot(this.env.dataDir));
    } catch {
      return;
    }
    for (const name of names) {
      const at = name.lastIndexOf('_');
      if (at <= 0) continue;
      const paths = vmPaths(this.env.dataDir, name.slice(0, at), name.slice(at + 1));
      if (this.#pid(paths) > 0)
        void this.#monitor(paths, name.slice(0, at), name.slice(at + 1)).catch(() => {});
    }
  }

  /** The QEMU pid from the pid file, if that process is ours (its cmdline names our QMP socket); else 0. */
  #pid(paths: VmPaths): number {
    let pid: number;
    try {
      pid = Number(readFileSync(paths.pidFile, 'utf8').trim());
    } catch {
      return 0;
    }
    if (!Number.isInteger(pid) || pid <= 0) return 0;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes(paths.qmpSocket) ? pid : 0;
    } catch {
      return 0;
    }
  }

  /** The VM's QMP connection, opened once and shared; its close reports a stop. */
  #monitor(paths: VmPaths, project: string, name: string): Promise<QmpClient> {
    const existing = this.#monitors.get(paths.name);
    if (existing) return existing;
    const connecting = QmpClient.connect(paths.qmpSocket).then((client) => {
      client.onClose(() => {
        this.#monitors.delete(paths.name);
        if (this.#closed || this.#stopping.has(paths.name)) return;
        void (async () => {
          // QMP can close for other reasons; only an exit is a stop.
          const deadline = Date.now() + 5_000;
          while (this.#pid(paths) > 0 && Date.now() < deadline) await sleep(100);
          if (this.#pid(paths) === 0) {
            rmSync(paths.pidFile, { force: true });
            this.env.onInstanceEvent({ type: 'stopped', project, name, target: 'stop' });
          }
        })();
      });
      if (this.#closed) client.close();
      return client;
    });
    this.#monitors.set(paths.name, connecting);
    connecting.catch(() => this.#monitors.delete(paths.name));
    return connecting;
  }

  async #qmp(
    instance: DriverInstance,
    command: string,
    args?: Record<string, unknown>,
  ): Promise<unknown> {
    const paths = this.paths(instance);
    const client = await this.#monitor(paths, instance.project, instance.name);
    return client.execute(command, args);
  }

  #requirePid(instance: DriverInstance): { paths: VmPaths; pid: number } {
    const paths = this.paths(instance);
    const pid = this.#pid(paths);
    if (pid === 0) throw this.notRunning(instance);
    return { paths, pid };
  }

  imagePreparation(_instance: DriverInstance): RootfsPreparation | null {
    return null;
  }

  async create(_instance: DriverInstance, _source: { prepared?: string }): Promise<void> {
    // Nothing beyond the volume: the runtime dir is made at start.
  }

  async delete(instance: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    if (this.#pid(paths) > 0) await this.stop(instance);
    rmSync(paths.runDir, { recursive: true, force: true });
    rmSync(paths.logDir, { recursive: true, force: true });
  }

  async rename(instance: DriverInstance, _newName: string): Promise<void> {
    const from = this.paths(instance);
    if (this.#pid(from) > 0) throw this.mustBeStopped(instance, 'renamed');
    // Nothing running: the runtime dir is remade at start; old logs go.
    rmSync(from.runDir, { recursive: true, force: true });
    rmSync(from.logDir, { recursive: true, force: true });
  }

  async update(instance: DriverInstance, previous: DriverInstance): Promise<void> {
    if (this.#pid(this.paths(instance)) === 0) return;
    for (const key of ['limits.cpu', 'limits.memory']) {
      if (instance.expandedConfig[key] !== previous.expandedConfig[key]) {
        throw new EngineError(
          'NOT_IMPLEMENTED',
          `${key} of a running VM cannot change yet (CPU and memory hotplug): stop it first`,
        );
      }
    }
  }

  async start(instance: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    if (this.#pid(paths) > 0) throw this.alreadyRunning(instance);
    const boot = bootFiles(instance.paths.rootfs);
    for (const file of [boot.kernel, boot.initrd]) {
      if (!existsSync(file)) {
        throw new EngineError(
          'NOT_FOUND',
          `${instance.name} has no ${file}: a VM boots a kernel and initrd from its volume's rootfs/boot (build one with images/tiny-vm-image.ts)`,
        );
      }
    }
    let cmdline = DEFAULT_CMDLINE;
    try {
      cmdline = readFileSync(boot.cmdline, 'utf8').trim() || DEFAULT_CMDLINE;
    } catch {
      // default
    }
    // Stale sockets and pid file of a VM that died with the host.
    rmSync(paths.runDir, { recursive: true, force: true });
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    readConsoleLog(paths.consoleLog);
    const args = buildQemuArgs({
      paths,
      accel: this.accel,
      cpus: vmCpus(instance.expandedConfig),
      memoryBytes: vmMemoryBytes(instance.expandedConfig, os.totalmem()),
      kernel: boot.kernel,
      initrd: boot.initrd,
      cmdline,
      ...(instance.localConfig['volatile.uuid']
        ? { uuid: instance.localConfig['volatile.uuid'] }
        : {}),
    });
    // -daemonize: the parent exits once QEMU is set up (sockets listening, pid file written).
    const result = await runCommand(QEMU_BINARY, args, {
      timeoutMs: START_TIMEOUT_MS,
      allowFailure: true,
    });
    if (result.exitCode !== 0 || this.#pid(paths) === 0) {
      let log = '';
      try {
        log = readFileSync(paths.qemuLog, 'utf8').trim();
      } catch {
        // none
      }
      throw new EngineError(
        'INTERNAL',
        `Failed to start ${instance.name}: ${QEMU_BINARY} exited with ${result.exitCode}: ${(result.stderr.trim() || log || 'no output').slice(-2000)}`,
      );
    }
    await this.#monitor(paths, instance.project, instance.name);
  }

  /** Waits until the VM's process is gone; false at the timeout. */
  async #waitExit(paths: VmPaths, pid: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!isAlive(pid)) return true;
      await sleep(50);
    }
    return !isAlive(pid);
  }

  async #afterExit(paths: VmPaths): Promise<void> {
    rmSync(paths.pidFile, { force: true });
    rmSync(paths.qmpSocket, { force: true });
    rmSync(paths.consoleSocket, { force: true });
    this.#monitors.delete(paths.name);
  }

  async stop(instance: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    const pid = this.#pid(paths);
    if (pid === 0) return this.#afterExit(paths);
    this.#stopping.add(paths.name);
    try {
      // `quit` first (QEMU closes cleanly), then SIGKILL of this pid only.
      await this.#qmp(instance, 'quit').catch(() => {});
      if (!(await this.#waitExit(paths, pid, 3_000))) {
        if (this.#pid(paths) === pid) process.kill(pid, 'SIGKILL');
        if (!(await this.#waitExit(paths, pid, EXIT_WAIT_MS))) {
          throw new EngineError('INTERNAL', `QEMU (pid ${pid}) of ${instance.name} did not exit`);
        }
      }
      await this.#afterExit(paths);
    } finally {
      this.#stopping.delete(paths.name);
    }
  }

  async shutdown(instance: DriverInstance, timeoutMs: number): Promise<void> {
    if (!(timeoutMs > 0)) return this.stop(instance);
    const paths = this.paths(instance);
    const pid = this.#pid(paths);
    if (pid === 0) return this.#afterExit(paths);
    this.#stopping.add(paths.name);
    try {
      // The ACPI power button; the guest decides. Past the timeout, forced.
      await this.#qmp(instance, 'system_powerdown');
      if (await this.#waitExit(paths, pid, timeoutMs)) return await this.#afterExit(paths);
    } finally {
      this.#stopping.delete(paths.name);
    }
    await this.stop(instance);
  }

  async freeze(instance: DriverInstance): Promise<void> {
    this.#requirePid(instance);
    await this.#qmp(instance, 'stop');
  }

  async unfreeze(instance: DriverInstance): Promise<void> {
    this.#requirePid(instance);
    await this.#qmp(instance, 'cont');
  }

  async status(instance: DriverInstance): Promise<InstanceStatus> {
    if (this.#pid(this.paths(instance)) === 0) return 'Stopped';
    return this.#statusOfQmp(instance);
  }

  async #statusOfQmp(instance: DriverInstance): Promise<InstanceStatus> {
    try {
      const answer = (await this.#qmp(instance, 'query-status')) as { status?: string };
      if (answer.status === 'paused') return 'Frozen';
      if (answer.status === 'running') return 'Running';
      if (answer.status === 'shutdown') return 'Stopping';
      return answer.status === 'internal-error' || answer.status === 'guest-panicked'
        ? 'Error'
        : 'Running';
    } catch {
      // The process is ours and alive, but its monitor does not answer.
      return 'Error';
    }
  }

  async renderState(instance: DriverInstance): Promise<InstanceState> {
    const paths = this.paths(instance);
    const pid = this.#pid(paths);
    const status = pid === 0 ? 'Stopped' : await this.#statusOfQmp(instance);
    const state = this.idleState(status);
    if (pid === 0) return state;
    let cpuNs = 0;
    try {
      cpuNs = cpuNsFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      // exited meanwhile
    }
    // Guest memory use needs an agent or a balloon; report what the VM was given, as LXD does without one.
    const memory = vmMemoryBytes(instance.expandedConfig, os.totalmem());
    return {
      ...state,
      memory: { ...state.memory, usage: memory, usage_peak: memory },
      pid,
      processes: -1,
      cpu: { usage: cpuNs },
    };
  }

  #noAgent(what: string): never {
    throw new EngineError(
      'NOT_IMPLEMENTED',
      `${what} inside a virtual machine needs a guest agent, which the qemu driver does not have yet`,
    );
  }

  async exec(_instance: DriverInstance): Promise<ExecProcess> {
    this.#noAgent('exec');
  }

  /**
   * The serial console: one client at a time on QEMU's console socket (a
   * second one would wait unseen in the listen queue, so it is BUSY here).
   */
  async console(
    instance: DriverInstance,
    _size: { cols: number; rows: number },
  ): Promise<ConsoleStream> {
    const { paths } = this.#requirePid(instance);
    if (this.#consoles.has(paths.name)) {
      throw new EngineError('BUSY', `The console of ${instance.name} is already in use`);
    }
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(paths.consoleSocket);
      s.once('connect', () => resolve(s));
      s.once('error', (error) =>
        reject(new EngineError('INTERNAL', `Console of ${instance.name}: ${error.message}`)),
      );
    });
    this.#consoles.add(paths.name);
    const output = new PassThrough();
    socket.pipe(output);
    socket.on('close', () => this.#consoles.delete(paths.name));
    socket.on('error', () => output.end());
    const input = new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        if (!socket.destroyed) socket.write(chunk);
        callback();
      },
    });
    return {
      output,
      input,
      // A serial line has no size; the guest's shell learns it with stty.
      resize() {},
      close: () => {
        socket.destroy();
        this.#consoles.delete(paths.name);
      },
    };
  }

  async filePull(_instance: DriverInstance, _path: string): Promise<{ entry: FileEntry }> {
    this.#noAgent('Reading files');
  }

  async filePush(_instance: DriverInstance, _path: string): Promise<void> {
    this.#noAgent('Writing files');
  }

  async fileRemove(_instance: DriverInstance, _path: string): Promise<void> {
    this.#noAgent('Removing files');
  }

  /** The engine is closing: drop QMP connections (the VMs keep running). */
  close(): void {
    this.#closed = true;
    for (const monitor of this.#monitors.values())
      void monitor.then(
        (c) => c.close(),
        () => {},
      );
    this.#monitors.clear();
  }
}
