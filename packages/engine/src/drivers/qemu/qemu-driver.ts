// The QEMU driver: virtual machines as daemonised qemu-system-x86_64
// processes, each with a runtime dir (`<dataDir>/qemu/<project>_<name>`)
// holding its pid file, its QMP socket and its serial console socket. The
// engine keeps one QMP connection per running VM; QEMU outlives the engine,
// and a new engine finds it again by pid file and reconnects to its QMP
// socket (vm-runtime.ts). Nothing is ever killed by name.
//
// A VM has a root disk (a qcow2 overlay in its volume, root-disk.ts), boots
// its image's kernel directly when the volume has `rootfs/boot/vmlinuz`
// (images/tiny-vm-image.ts) and from that disk through UEFI otherwise
// (OVMF, its variables in the volume's qemu.nvram: vm-firmware.ts), has one tap per
// NIC on its bridge (vm-nics.ts), and a virtio-serial channel to
// qemu-guest-agent in the guest (qga-client.ts), through which exec, files,
// the guest's addresses and OS (vm-state.ts), and a clean shutdown go
// (agent-*.ts). Host directories (disk devices with a host `source` and a
// `path`) are 9p shares set at start and mounted in the guest through its
// agent (vm-shares.ts). A running VM's volume is copied (a snapshot, a
// copy) with the guest's filesystems frozen and QEMU paused
// (withQuiescedStorage). A stateful stop or snapshot saves the VM's memory
// and devices in the volume's `state`, which a stateful start loads
// (vm-saved-state.ts).
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { EngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import type { InstanceState, InstanceStatus } from '../../schemas/index.ts';
import { readConsoleLog } from '../console-log.ts';
import { DriverCommon } from '../driver-common.ts';
import type {
  ConsoleStream,
  GraphicalConsoleStream,
  DriverEnvironment,
  DriverInstance,
  ExecProcess,
  ExecRequest,
  FileEntry,
  FileStat,
  FileWrite,
  InstanceDriver,
  RootfsPreparation,
  SavedState,
  StartOptions,
} from '../driver.ts';
import { loadState, saveState, statePath, type Qmp } from './vm-saved-state.ts';
import { execThroughAgent, type AgentAccess } from './agent-exec.ts';
import { execOnPty } from './agent-pty.ts';
import { pinVcpus } from './vm-cpu-pinning.ts';
import { applyLiveLimits } from './vm-live-limits.ts';
import { listDirectory, pullFile, pushFile, removeFile, statFile } from './agent-files.ts';
import { ensureRootDisk } from './root-disk.ts';
import { createTap, recordTaps, resolveVmNics } from './vm-nics.ts';
import {
  DEFAULT_CMDLINE,
  buildQemuArgs,
  vmCpus,
  vmMaxCpus,
  vmMemoryBytes,
  type Accelerator,
} from './qemu-args.ts';
import { bootFiles, qemuRoot, type VmPaths } from './qemu-paths.ts';
import { SerialConsoles } from './vm-console.ts';
import { applyDiskChanges } from './vm-block-hotplug.ts';
import {
  ShareKeeper,
  hostDisksOf,
  planShares,
  qemuBlockDisks,
  qemuShares,
  readSharePlan,
  writeSharePlan,
  type HostDiskSpec,
} from './vm-shares.ts';
import { attachVnc } from './vm-vnc.ts';
import { prepareFirmware } from './vm-firmware.ts';
import { AGENT_STATE_SYNC_MS, VmRuntime } from './vm-runtime.ts';
import { rootDiskState, runningVmState } from './vm-state.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';
const START_TIMEOUT_MS = 30_000;
const EXIT_WAIT_MS = 10_000;

export class QemuDriver extends DriverCommon implements InstanceDriver {
  readonly type = 'virtual-machine' as const;
  readonly name = 'qemu' as const;
  readonly accel: Accelerator;
  readonly #runtime: VmRuntime;
  readonly #consoles = new SerialConsoles();
  readonly #shares: ShareKeeper;

  constructor(env: DriverEnvironment, accel: Accelerator) {
    super(env);
    this.accel = accel;
    this.#runtime = new VmRuntime(env);
    this.#shares = new ShareKeeper({
      agent: (paths) => this.#runtime.agent(paths),
      pid: (paths) => this.#runtime.pid(paths),
    });
    mkdirSync(qemuRoot(env.dataDir), { recursive: true, mode: 0o700 });
    this.#runtime.reattach((paths) => this.#shares.resume(paths));
  }

  paths(instance: Pick<DriverInstance, 'project' | 'name'>): VmPaths {
    return this.#runtime.paths(instance);
  }

  #requirePid(instance: DriverInstance): { paths: VmPaths; pid: number } {
    const paths = this.paths(instance);
    const pid = this.#runtime.pid(paths);
    if (pid === 0) throw this.notRunning(instance);
    return { paths, pid };
  }

  /** The engine's volume service for this VM's custom volume disks, when it has one. */
  #attachVolume(
    instance: DriverInstance,
  ): ((spec: HostDiskSpec & { pool: string }) => Promise<string>) | undefined {
    const attach = this.env.attachVolume?.bind(this.env);
    if (!attach) return undefined;
    return (spec) =>
      // No id map: a VM's guest root is host root in what it is given (as for 9p shares).
      attach({
        pool: spec.pool,
        project: instance.project,
        volume: spec.source,
        instance: instance.name,
        instanceType: instance.type,
        device: spec.device,
        idmap: null,
      });
  }

  /** What exec and files use: the running VM's agent, connected on first use. */
  #agentOf(instance: DriverInstance): AgentAccess {
    const { paths } = this.#requirePid(instance);
    return () => this.#runtime.agent(paths);
  }

  imagePreparation(_instance: DriverInstance): RootfsPreparation | null {
    return null;
  }

  async create(instance: DriverInstance, _source: { prepared?: string }): Promise<void> {
    // The root disk now when the image brought its disk; otherwise at first
    // start (a volume filled after create still gets its overlay). The
    // runtime dir is made at start.
    if (existsSync(path.join(instance.paths.rootfs, 'rootfs.img')))
      await ensureRootDisk(instance.paths.dir, instance.paths.rootfs, instance.expandedDevices);
  }

  async delete(instance: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    if (this.#runtime.pid(paths) > 0) await this.stop(instance);
    await this.#runtime.removeTaps(paths);
    rmSync(paths.runDir, { recursive: true, force: true });
    rmSync(paths.logDir, { recursive: true, force: true });
  }

  async rename(instance: DriverInstance, _newName: string): Promise<void> {
    const from = this.paths(instance);
    if (this.#runtime.pid(from) > 0) throw this.mustBeStopped(instance, 'renamed');
    // Nothing running: the runtime dir is remade at start; old logs go.
    await this.#runtime.removeTaps(from);
    rmSync(from.runDir, { recursive: true, force: true });
    rmSync(from.logDir, { recursive: true, force: true });
  }

  async update(instance: DriverInstance, previous: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    if (this.#runtime.pid(paths) === 0) return;
    // Disks first: a share refuses before anything is applied; block volumes are hot-plugged.
    await applyDiskChanges(
      readSharePlan(paths.runDir) ?? { disks: [] },
      hostDisksOf(instance.expandedDevices),
      {
        qmp: (command, args) => this.#runtime.qmp(instance, command, args),
        ...(this.#attachVolume(instance) ? { attachVolume: this.#attachVolume(instance) } : {}),
        record: (plan) => writeSharePlan(paths.runDir, plan),
      },
    );
    // vCPU hotplug and the balloon, as LXD 5.0.2 (vm-live-limits.ts).
    await applyLiveLimits(instance.expandedConfig, previous.expandedConfig, {
      qmp: (command, args) => this.#runtime.qmp(instance, command, args),
      agent: () => this.#runtime.agent(paths),
      hostMemoryBytes: os.totalmem(),
    });
  }

  async start(instance: DriverInstance, options: StartOptions = {}): Promise<void> {
    const paths = this.paths(instance);
    if (this.#runtime.pid(paths) > 0) throw this.alreadyRunning(instance);
    const state = statePath(instance.paths.dir);
    if (options.restoreState && !existsSync(state))
      throw new EngineError('CONFLICT', 'Instance has no existing state to restore');
    // A boot makes a saved state (a copy's, a stateless start's) meaningless.
    if (!options.restoreState) rmSync(state, { force: true });
    // Host directories and custom volumes are checked before anything is made.
    const shares = await planShares(instance.expandedDevices, this.#attachVolume(instance));
    const boot = bootFiles(instance.paths.rootfs);
    let kernel: { kernel: string; initrd?: string; cmdline: string } | undefined;
    if (existsSync(boot.kernel)) {
      let cmdline = DEFAULT_CMDLINE;
      try {
        cmdline = readFileSync(boot.cmdline, 'utf8').trim() || DEFAULT_CMDLINE;
      } catch {
        // default
      }
      kernel = {
        kernel: boot.kernel,
        cmdline,
        ...(existsSync(boot.initrd) ? { initrd: boot.initrd } : {}),
      };
    }
    // No kernel of its own: UEFI from the disk, as LXD's VMs (its qemu.nvram kept in the volume).
    const firmware = kernel
      ? undefined
      : prepareFirmware(instance.paths.dir, instance.expandedConfig);
    const rootDisk = await ensureRootDisk(
      instance.paths.dir,
      instance.paths.rootfs,
      instance.expandedDevices,
    );
    // Stale taps, sockets and pid file of a VM that died with the host.
    await this.#runtime.removeTaps(paths);
    rmSync(paths.runDir, { recursive: true, force: true });
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    readConsoleLog(paths.consoleLog);
    const nics = await resolveVmNics(instance, paths.name, this.env);
    // Recorded before they exist: whatever happens next, stop/delete/next start removes them.
    recordTaps(
      paths.tapsFile,
      nics.map((n) => n.tap),
    );
    let result: Awaited<ReturnType<typeof runCommand>>;
    try {
      for (const nic of nics) await createTap(nic);
      const args = buildQemuArgs({
        paths,
        accel: this.accel,
        cpus: vmCpus(instance.expandedConfig),
        maxCpus: vmMaxCpus(instance.expandedConfig, os.cpus().length),
        memoryBytes: vmMemoryBytes(instance.expandedConfig, os.totalmem()),
        ...(kernel ? { kernel } : {}),
        ...(firmware ? { firmware } : {}),
        rootDisk,
        nics: nics.map((n) => ({ device: n.device, tap: n.tap, hwaddr: n.hwaddr })),
        shares: qemuShares(shares),
        blockDisks: qemuBlockDisks(shares),
        hotplugPorts: shares.ports ?? 0,
        ...(instance.localConfig['volatile.uuid']
          ? { uuid: instance.localConfig['volatile.uuid'] }
          : {}),
        ...(options.restoreState ? { incoming: true } : {}),
      });
      // -daemonize: the parent exits once QEMU is set up (sockets listening, pid file written).
      result = await runCommand(QEMU_BINARY, args, {
        timeoutMs: START_TIMEOUT_MS,
        allowFailure: true,
      });
    } catch (error) {
      if (this.#runtime.pid(paths) === 0) await this.#runtime.removeTaps(paths).catch(() => {});
      throw error;
    }
    if (result.exitCode !== 0 || this.#runtime.pid(paths) === 0) {
      await this.#runtime.removeTaps(paths).catch(() => {});
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
    await this.#runtime.watch(instance);
    await pinVcpus(instance.expandedConfig, (command) =>
      this.#runtime.qmp(instance, command),
    ).catch(async (error: unknown) => {
      // A VM that runs where it was told not to is not started.
      await this.stop(instance).catch(() => {});
      throw error;
    });
    if (options.restoreState) {
      // A state that does not load leaves no VM, and the state as it was, for another try.
      await loadState(this.#qmpOf(instance), state).catch(async (error: unknown) => {
        await this.stop(instance).catch(() => {});
        throw error;
      });
      rmSync(state, { force: true });
    }
    // Mounted in the guest once its agent answers; said in shares.log.
    this.#shares.begin(paths, shares);
  }

  async stop(instance: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    const pid = this.#runtime.pid(paths);
    if (pid === 0) return this.#runtime.afterExit(paths);
    await this.#runtime.stopping(paths, async () => {
      // `quit` first (QEMU closes cleanly), then SIGKILL of this pid only.
      await this.#runtime.qmp(instance, 'quit').catch(() => {});
      if (!(await this.#runtime.waitExit(pid, 3_000))) {
        if (this.#runtime.pid(paths) === pid) process.kill(pid, 'SIGKILL');
        if (!(await this.#runtime.waitExit(pid, EXIT_WAIT_MS))) {
          throw new EngineError('INTERNAL', `QEMU (pid ${pid}) of ${instance.name} did not exit`);
        }
      }
      await this.#runtime.afterExit(paths);
    });
  }

  async shutdown(instance: DriverInstance, timeoutMs: number): Promise<void> {
    if (!(timeoutMs > 0)) return this.stop(instance);
    const paths = this.paths(instance);
    const pid = this.#runtime.pid(paths);
    if (pid === 0) return this.#runtime.afterExit(paths);
    const exited = await this.#runtime.stopping(paths, async () => {
      const deadline = Date.now() + timeoutMs;
      // The agent's guest-shutdown when one answers (a guest without acpid
      // still goes down), else the ACPI power button; the guest decides.
      // Past the timeout, forced.
      let asked = false;
      try {
        const agent = await this.#runtime.agent(paths, Math.min(AGENT_STATE_SYNC_MS, timeoutMs));
        await agent.sendUnanswered('guest-shutdown', { mode: 'powerdown' });
        asked = true;
      } catch {
        // no agent, or it could not: the power button
      }
      if (!asked) await this.#runtime.qmp(instance, 'system_powerdown');
      if (!(await this.#runtime.waitExit(pid, Math.max(0, deadline - Date.now())))) return false;
      await this.#runtime.afterExit(paths);
      return true;
    });
    if (!exited) await this.stop(instance);
  }

  async freeze(instance: DriverInstance): Promise<void> {
    this.#requirePid(instance);
    await this.#runtime.qmp(instance, 'stop');
  }

  async unfreeze(instance: DriverInstance): Promise<void> {
    this.#requirePid(instance);
    await this.#runtime.qmp(instance, 'cont');
  }

  /**
   * A running VM's disk is whole only while QEMU holds still: the guest's
   * filesystems are frozen through its agent when one answers (what the
   * guest caches reaches the disk), then QMP `stop` drains and flushes
   * QEMU's block layer and pauses the vCPUs; `work` runs, then `cont` and
   * the thaw, whatever `work` did. A VM paused already (frozen by its user)
   * stays paused; a stopped one has nothing in flight.
   */
  async withQuiescedStorage<T>(instance: DriverInstance, work: () => Promise<T>): Promise<T> {
    if (this.#runtime.pid(this.paths(instance)) === 0) return work();
    const answer = (await this.#runtime.qmp(instance, 'query-status')) as { status?: string };
    if (answer.status !== 'running') return work();
    const thaw = await this.#runtime.freezeGuestFilesystems(this.paths(instance));
    // Each step runs whatever failed before it; the first failure is the one reported.
    const failures: unknown[] = [];
    const step = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        failures.push(error);
      }
    };
    let result: T | undefined;
    await step(async () => {
      await this.#runtime.qmp(instance, 'stop');
      result = await work();
    });
    await step(() => this.#runtime.qmp(instance, 'cont'));
    await step(thaw);
    if (failures.length > 0) throw failures[0];
    return result as T;
  }

  readonly savedState: SavedState = {
    has: (instance) => existsSync(statePath(instance.paths.dir)),
    stop: async (instance) => {
      const state = statePath(instance.paths.dir);
      const wasRunning = await this.#pauseForState(instance);
      try {
        await saveState(this.#qmpOf(instance), state);
      } catch (error) {
        // Not saved: it runs on as it was.
        if (wasRunning) await this.#runtime.qmp(instance, 'cont').catch(() => {});
        throw error;
      }
      await this.stop(instance).catch(async (error: unknown) => {
        await rm(state, { force: true });
        throw error;
      });
    },
    withSaved: async (instance, work) => {
      const state = statePath(instance.paths.dir);
      const wasRunning = await this.#pauseForState(instance);
      try {
        await saveState(this.#qmpOf(instance), state);
        return await work();
      } finally {
        await rm(state, { force: true });
        // After a save QEMU holds its disks inactive until `cont`, also for a VM its user had paused.
        await this.#runtime.qmp(instance, 'cont').catch(() => {});
        if (!wasRunning) await this.#runtime.qmp(instance, 'stop').catch(() => {});
      }
    },
  };

  /** Pauses a running VM for a save; whether it ran (a frozen one stays as it is). */
  async #pauseForState(instance: DriverInstance): Promise<boolean> {
    this.#requirePid(instance);
    const status = (await this.#runtime.qmp(instance, 'query-status')) as { status?: string };
    if (status.status !== 'running') return false;
    await this.#runtime.qmp(instance, 'stop');
    return true;
  }

  #qmpOf(instance: DriverInstance): Qmp {
    return (command, args) => this.#runtime.qmp(instance, command, args);
  }

  async status(instance: DriverInstance): Promise<InstanceStatus> {
    if (this.#runtime.pid(this.paths(instance)) === 0) return 'Stopped';
    return this.#statusOfQmp(instance);
  }

  async #statusOfQmp(instance: DriverInstance): Promise<InstanceStatus> {
    try {
      const answer = (await this.#runtime.qmp(instance, 'query-status')) as { status?: string };
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
    const pid = this.#runtime.pid(paths);
    const status = pid === 0 ? 'Stopped' : await this.#statusOfQmp(instance);
    const state = this.idleState(status);
    if (pid === 0) return { ...state, disk: rootDiskState(instance) };
    return runningVmState(state, instance, { paths, pid }, this.#runtime, this.env.dataDir);
  }

  /**
   * Commands through the guest agent (agent-exec.ts); with a terminal, on a
   * pty over a virtio-serial port plugged for the session (agent-pty.ts).
   */
  async exec(instance: DriverInstance, request: ExecRequest): Promise<ExecProcess> {
    const agent = this.#agentOf(instance);
    if (!request.interactive) return execThroughAgent(agent, request);
    const { paths } = this.#requirePid(instance);
    return execOnPty(
      agent,
      (command, args) => this.#runtime.qmp(instance, command, args),
      paths.runDir,
      { ...request, interactive: request.interactive },
    );
  }

  /** The serial console (vm-console.ts). */
  async console(
    instance: DriverInstance,
    _size: { cols: number; rows: number },
  ): Promise<ConsoleStream> {
    const { paths } = this.#requirePid(instance);
    return this.#consoles.attach(paths, instance.name);
  }

  /** The VGA screen, as QEMU's VNC server serves it (vm-vnc.ts). */
  async graphicalConsole(instance: DriverInstance): Promise<GraphicalConsoleStream> {
    const { paths } = this.#requirePid(instance);
    return attachVnc(paths, instance.name);
  }

  /** Files go through the agent, so the VM must run (LXD's too: its agent serves them). */
  async filePull(
    instance: DriverInstance,
    filePath: string,
  ): Promise<{ entry: FileEntry; content?: Buffer; entries?: string[] }> {
    return pullFile(this.#agentOf(instance), filePath);
  }

  async filePush(instance: DriverInstance, filePath: string, file: FileWrite): Promise<void> {
    await pushFile(this.#agentOf(instance), filePath, file);
  }

  async stat(instance: DriverInstance, filePath: string): Promise<FileStat> {
    return statFile(this.#agentOf(instance), filePath);
  }

  async listDirectory(instance: DriverInstance, filePath: string): Promise<FileStat[]> {
    return listDirectory(this.#agentOf(instance), filePath);
  }

  async fileRemove(instance: DriverInstance, filePath: string): Promise<void> {
    await removeFile(this.#agentOf(instance), filePath);
  }

  /** The engine is closing: drop QMP and agent connections (the VMs keep running). */
  close(): void {
    this.#shares.close();
    this.#runtime.close();
  }
}
