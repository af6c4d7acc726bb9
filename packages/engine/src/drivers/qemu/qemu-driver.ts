// The QEMU driver: virtual machines as daemonised qemu-system-x86_64
// processes, each with a runtime dir (`<dataDir>/qemu/<project>_<name>`)
// holding its pid file, its QMP socket and its serial console socket. The
// engine keeps one QMP connection per running VM; QEMU outlives the engine,
// and a new engine finds it again by pid file (checked against
// /proc/<pid>/cmdline) and reconnects to its QMP socket. Nothing is ever
// killed by name.
//
// A VM has a root disk (a qcow2 overlay in its volume, root-disk.ts), boots
// its image's kernel directly when the volume has `rootfs/boot/vmlinuz`
// (images/tiny-vm-image.ts) and from that disk otherwise, has one tap per
// NIC on its bridge (vm-nics.ts), and a virtio-serial channel to
// qemu-guest-agent in the guest (qga-client.ts), through which exec, files,
// the guest's addresses and OS, and a clean shutdown go (agent-*.ts).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import os from 'node:os';
import { PassThrough, Writable } from 'node:stream';
import { EngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import { linkInfo } from '../../network/bridge-link.ts';
import { readNetworkLeases } from '../../network/lease-file.ts';
import type { InstanceState, InstanceStatus } from '../../schemas/index.ts';
import { readConsoleLog } from '../console-log.ts';
import { DriverCommon, sleep } from '../driver-common.ts';
import type {
  ConsoleStream,
  DriverEnvironment,
  DriverInstance,
  ExecProcess,
  ExecRequest,
  FileEntry,
  FileWrite,
  InstanceDriver,
  RootfsPreparation,
} from '../driver.ts';
import { execThroughAgent, type AgentAccess } from './agent-exec.ts';
import { pullFile, pushFile, removeFile } from './agent-files.ts';
import {
  networkFromAgent,
  networkFromLeases,
  osInfoFromAgent,
  type GuestInterface,
  type GuestOsInfo,
  type HostNic,
  type VmState,
} from './agent-state.ts';
import { QgaClient, agentNotRunning } from './qga-client.ts';
import { ensureRootDisk, rootDiskUsage } from './root-disk.ts';
import {
  createTap,
  deleteTap,
  planVmNics,
  recordTaps,
  recordedTaps,
  tapCounters,
  tapName,
  type VmNic,
} from './vm-nics.ts';
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
/** How long an agent may take to answer the sync before it counts as not running. */
const AGENT_SYNC_MS = 5_000;
/** State asks the agent too: a busy or absent one must not hold `lxc list` up for long. */
const AGENT_STATE_SYNC_MS = 1_500;
/** After state found no agent, it asks again only this much later (exec and files always ask). */
const AGENT_RETRY_MS = 10_000;

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
  /** One agent connection per running VM (QEMU's chardev takes one client at a time). */
  readonly #agents = new Map<string, Promise<QgaClient>>();
  /** When state last found no agent, per VM: state skips it for a while (`lxc list` must not wait each time). */
  readonly #agentMissingAt = new Map<string, number>();
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
      // Exited while no engine watched: its taps are still there.
      else void this.#removeTaps(paths).catch(() => {});
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
            this.#dropAgent(paths);
            await this.#removeTaps(paths).catch(() => {});
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

  /** The VM's agent connection, synced; LXD's "VM agent isn't currently running" when none answers. */
  #agentClient(paths: VmPaths, syncMs = AGENT_SYNC_MS): Promise<QgaClient> {
    const existing = this.#agents.get(paths.name);
    if (existing) {
      return existing.then(
        (client) => (client.closed ? this.#connectAgent(paths, syncMs) : client),
        () => this.#connectAgent(paths, syncMs),
      );
    }
    return this.#connectAgent(paths, syncMs);
  }

  #connectAgent(paths: VmPaths, syncMs: number): Promise<QgaClient> {
    if (this.#pid(paths) === 0) return Promise.reject(agentNotRunning());
    const connecting = QgaClient.connect(paths.qgaSocket, { syncTimeoutMs: syncMs });
    this.#agents.set(paths.name, connecting);
    connecting.then(
      (client) => {
        this.#agentMissingAt.delete(paths.name);
        client.onClose(() => {
          if (this.#agents.get(paths.name) === connecting) this.#agents.delete(paths.name);
        });
      },
      () => {
        if (this.#agents.get(paths.name) === connecting) this.#agents.delete(paths.name);
      },
    );
    return connecting;
  }

  #dropAgent(paths: VmPaths): void {
    this.#agentMissingAt.delete(paths.name);
    const agent = this.#agents.get(paths.name);
    this.#agents.delete(paths.name);
    void agent?.then(
      (c) => c.close(),
      () => {},
    );
  }

  /** What exec and files use: the running VM's agent, connected on first use. */
  #agentOf(instance: DriverInstance): AgentAccess {
    const { paths } = this.#requirePid(instance);
    return () => this.#agentClient(paths);
  }

  /** The VM's NICs with bridges resolved (managed networks brought up) and taps named. */
  async #resolveNics(instance: DriverInstance, paths: VmPaths): Promise<VmNic[]> {
    const nics: VmNic[] = [];
    for (const plan of planVmNics(instance.expandedConfig, instance.expandedDevices)) {
      let bridge = plan.parent ?? '';
      let mtu = plan.mtu;
      if (plan.network !== undefined) {
        const network = await this.env.ensureNetwork(plan.network);
        bridge = network.bridge;
        mtu ??= network.mtu;
      }
      nics.push({
        device: plan.device,
        name: plan.name,
        bridge,
        tap: plan.hostName ?? tapName(this.env.dataDir, paths.name, plan.device),
        hwaddr: plan.hwaddr,
        ...(mtu ? { mtu } : {}),
        ...(plan.network !== undefined ? { network: plan.network } : {}),
      });
    }
    return nics;
  }

  /** NICs as the host sees them, without bringing networks up (state must not create bridges). */
  #hostNics(instance: DriverInstance, paths: VmPaths): HostNic[] {
    try {
      return planVmNics(instance.expandedConfig, instance.expandedDevices).map((plan) => ({
        name: plan.name,
        hwaddr: plan.hwaddr,
        tap: plan.hostName ?? tapName(this.env.dataDir, paths.name, plan.device),
        ...(plan.mtu ? { mtu: plan.mtu } : {}),
        ...(plan.network !== undefined ? { network: plan.network } : {}),
      }));
    } catch {
      return [];
    }
  }

  async #removeTaps(paths: VmPaths): Promise<void> {
    for (const tap of recordedTaps(paths.tapsFile)) await deleteTap(tap);
    rmSync(paths.tapsFile, { force: true });
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
    if (this.#pid(paths) > 0) await this.stop(instance);
    await this.#removeTaps(paths);
    rmSync(paths.runDir, { recursive: true, force: true });
    rmSync(paths.logDir, { recursive: true, force: true });
  }

  async rename(instance: DriverInstance, _newName: string): Promise<void> {
    const from = this.paths(instance);
    if (this.#pid(from) > 0) throw this.mustBeStopped(instance, 'renamed');
    // Nothing running: the runtime dir is remade at start; old logs go.
    await this.#removeTaps(from);
    rmSync(from.runDir, { recursive: true, force: true });
    rmSync(from.logDir, { recursive: true, force: true });
  }

  async update(instance: DriverInstance, previous: DriverInstance): Promise<void> {
    if (this.#pid(this.paths(instance)) === 0) return;
    // -smp and -m are fixed at start (no CPU hotplug or balloon yet): LXD's answer for keys it cannot apply live.
    for (const key of ['limits.cpu', 'limits.memory']) {
      if (instance.expandedConfig[key] !== previous.expandedConfig[key]) {
        throw new EngineError('CONFLICT', `Key "${key}" cannot be updated when VM is running`, {
          field: `config["${key}"]`,
        });
      }
    }
  }

  async start(instance: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    if (this.#pid(paths) > 0) throw this.alreadyRunning(instance);
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
    const rootDisk = await ensureRootDisk(
      instance.paths.dir,
      instance.paths.rootfs,
      instance.expandedDevices,
    );
    // Stale taps, sockets and pid file of a VM that died with the host.
    await this.#removeTaps(paths);
    rmSync(paths.runDir, { recursive: true, force: true });
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    readConsoleLog(paths.consoleLog);
    const nics = await this.#resolveNics(instance, paths);
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
        memoryBytes: vmMemoryBytes(instance.expandedConfig, os.totalmem()),
        ...(kernel ? { kernel } : {}),
        rootDisk,
        nics: nics.map((n) => ({ device: n.device, tap: n.tap, hwaddr: n.hwaddr })),
        ...(instance.localConfig['volatile.uuid']
          ? { uuid: instance.localConfig['volatile.uuid'] }
          : {}),
      });
      // -daemonize: the parent exits once QEMU is set up (sockets listening, pid file written).
      result = await runCommand(QEMU_BINARY, args, {
        timeoutMs: START_TIMEOUT_MS,
        allowFailure: true,
      });
    } catch (error) {
      if (this.#pid(paths) === 0) await this.#removeTaps(paths).catch(() => {});
      throw error;
    }
    if (result.exitCode !== 0 || this.#pid(paths) === 0) {
      await this.#removeTaps(paths).catch(() => {});
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
    this.#dropAgent(paths);
    await this.#removeTaps(paths);
    rmSync(paths.pidFile, { force: true });
    rmSync(paths.qmpSocket, { force: true });
    rmSync(paths.consoleSocket, { force: true });
    rmSync(paths.qgaSocket, { force: true });
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
      const deadline = Date.now() + timeoutMs;
      // The agent's guest-shutdown when one answers (a guest without acpid
      // still goes down), else the ACPI power button; the guest decides.
      // Past the timeout, forced.
      let asked = false;
      try {
        const agent = await this.#agentClient(paths, Math.min(AGENT_STATE_SYNC_MS, timeoutMs));
        await agent.sendUnanswered('guest-shutdown', { mode: 'powerdown' });
        asked = true;
      } catch {
        // no agent, or it could not: the power button
      }
      if (!asked) await this.#qmp(instance, 'system_powerdown');
      if (await this.#waitExit(paths, pid, Math.max(0, deadline - Date.now())))
        return await this.#afterExit(paths);
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
    // Guest memory use needs a balloon; report what the VM was given, as LXD does without one.
    const memory = vmMemoryBytes(instance.expandedConfig, os.totalmem());
    const nics = this.#hostNics(instance, paths);
    const guest = status === 'Running' ? await this.#guestState(paths, nics) : undefined;
    const vmState: VmState = {
      ...state,
      disk: { root: { usage: rootDiskUsage(instance.paths.dir) } },
      memory: { ...state.memory, usage: memory, usage_peak: memory },
      network: guest?.network ?? (await this.#leaseNetwork(nics)),
      pid,
      processes: -1,
      cpu: { usage: cpuNs },
      ...(guest ? { os_info: guest.osInfo } : {}),
    };
    return vmState;
  }

  /** The guest's interfaces and OS from its agent; undefined when none answers. */
  async #guestState(paths: VmPaths, nics: HostNic[]) {
    const missingAt = this.#agentMissingAt.get(paths.name);
    if (missingAt !== undefined && Date.now() - missingAt < AGENT_RETRY_MS) return undefined;
    try {
      const agent = await this.#agentClient(paths, AGENT_STATE_SYNC_MS);
      const interfaces = await agent.execute<GuestInterface[]>(
        'guest-network-get-interfaces',
        undefined,
        5_000,
      );
      const info = await agent.execute<GuestOsInfo>('guest-get-osinfo', undefined, 5_000);
      const host = await agent
        .execute<{ 'host-name': string }>('guest-get-host-name', undefined, 5_000)
        .then((h) => h['host-name'])
        .catch(() => '');
      this.#agentMissingAt.delete(paths.name);
      return { network: networkFromAgent(interfaces, nics), osInfo: osInfoFromAgent(info, host) };
    } catch {
      this.#agentMissingAt.set(paths.name, Date.now());
      return undefined;
    }
  }

  /** Without an agent: each NIC with the address dnsmasq leased to its MAC. */
  async #leaseNetwork(nics: HostNic[]): Promise<InstanceState['network']> {
    if (nics.length === 0) return null;
    const leases = [];
    const prefixes = new Map<string, string>();
    for (const network of new Set(nics.flatMap((n) => (n.network ? [n.network] : [])))) {
      leases.push(...(await readNetworkLeases(this.env.dataDir, network)));
      const link = await linkInfo(network).catch(() => null);
      const inet = link?.addr_info?.find((a) => a.family === 'inet');
      if (inet) prefixes.set(network, String(inet.prefixlen));
    }
    return networkFromLeases(nics, leases, tapCounters, (nic) =>
      nic.network ? (prefixes.get(nic.network) ?? '24') : '24',
    );
  }

  /** Non-interactive commands through the guest agent (agent-exec.ts); a pty is not there yet. */
  async exec(instance: DriverInstance, request: ExecRequest): Promise<ExecProcess> {
    return execThroughAgent(this.#agentOf(instance), request);
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

  async fileRemove(instance: DriverInstance, filePath: string): Promise<void> {
    await removeFile(this.#agentOf(instance), filePath);
  }

  /** The engine is closing: drop QMP and agent connections (the VMs keep running). */
  close(): void {
    this.#closed = true;
    for (const agent of this.#agents.values())
      void agent.then(
        (c) => c.close(),
        () => {},
      );
    this.#agents.clear();
    for (const monitor of this.#monitors.values())
      void monitor.then(
        (c) => c.close(),
        () => {},
      );
    this.#monitors.clear();
  }
}
