// The LXC driver: system containers through the lxc-* tools, one lxcpath per
// engine (`<dataDir>/lxc`), a config generated at every start, hooks that
// report back through a spool file. See docs/notes/lxc-host.md for every
// fact (and number) this relies on.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { EngineError } from '../../errors.ts';
import { hostFacts, type HostFacts } from '../host-facts.ts';
import type { CommandError } from '../../host/run-command.ts';
import type { InstanceState, InstanceStatus } from '../../schemas/index.ts';
import type { IdmapSet } from '../../validation/index.ts';
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
} from '../driver.ts';
import { readConsoleLog } from '../console-log.ts';
import { DiskHotplug, planDiskHotplug } from './disk-hotplug.ts';
import { DriverCommon, devicesOf, sleep } from '../driver-common.ts';
import { planNics, resolveBridge } from '../nic-plan.ts';
import {
  ProcessCgroups,
  leftoverCgroups,
  ownCgroupBases,
  readCgroupUsage,
  readNetwork,
  removeContainerCgroups,
} from './cgroup-state.ts';
import { attachConsole } from './console.ts';
import { InitPids, statusOf, type LxcInfo } from './init-pid.ts';
import { runLxc } from './lxc-command.ts';
import { execPiped, execPty } from './exec.ts';
import { RootfsFiles } from './files.ts';
import { HookSpool, hookEvent, hookScript } from './hooks.ts';
import {
  instanceIdmap,
  readSubidFiles,
  parseSerializedIdmap,
  serializeIdmap,
  type SubidFiles,
} from './instance-idmap.ts';
import { cpusetFor, memoryLimitBytes, renderLxcConfig, type ResolvedNic } from './lxc-config.ts';
import {
  containerPaths,
  lxcLayout,
  parseContainerName,
  vethName,
  type ContainerPaths,
  type LxcLayout,
} from './lxc-paths.ts';
import { ProxyForwarders } from './proxy.ts';
import { shiftRootfs } from './rootfs-shift.ts';
import { makeDeviceNodes, planUnixDevices, type ResolvedUnixDevice } from './unix-devices.ts';
import {
  currentShift,
  recordShift,
  rootfsMissing,
  secureVolume,
  shiftVolumeTo,
} from './volume-shift.ts';

const LXC_LOCK_DIR = '/run/lxc/lock';
const FREEZE_TIMEOUT_MS = 10_000;
const CGROUP_CLEANUP_MS = 2_000;

export interface LxcDriverOptions {
  /** Reads /etc/subuid and /etc/subgid (tests may pass others). */
  subidFiles?: () => SubidFiles;
  host?: HostFacts;
}

export class LxcDriver extends DriverCommon implements InstanceDriver {
  readonly type = 'container' as const;
  readonly name = 'lxc' as const;
  readonly layout: LxcLayout;
  readonly #subidFiles: () => SubidFiles;
  readonly #host: HostFacts;
  readonly #spool: HookSpool;
  readonly #cgroupBases = ownCgroupBases();
  readonly #inits: InitPids;
  readonly #proxies = new ProxyForwarders();
  readonly #disks = new DiskHotplug(path.join(this.env.dataDir, 'helpers'));
  #startsInFlight = 0;

  constructor(env: DriverEnvironment, options: LxcDriverOptions = {}) {
    super(env);
    this.layout = lxcLayout(env.dataDir);
    this.#inits = new InitPids(this.layout, this.#cgroupBases);
    this.#subidFiles = options.subidFiles ?? readSubidFiles;
    this.#host = options.host ?? hostFacts();
    mkdirSync(this.layout.lxcPath, { recursive: true, mode: 0o711 });
    chmodSync(this.layout.lxcPath, 0o711);
    writeFileSync(this.layout.hookScript, hookScript(this.layout.hookSpool), { mode: 0o755 });
    chmodSync(this.layout.hookScript, 0o755);
    this.#spool = new HookSpool(this.layout.hookSpool, (line) => {
      const event = hookEvent(line);
      if (event === undefined) return;
      const paths = containerPaths(this.layout, event.project, event.name);
      if (event.type === 'stopped' && event.target === 'stop') {
        // LXC's own teardown finishes after post-stop: tidy a moment later.
        setTimeout(() => this.#removeCgroups(paths), 500).unref();
      }
      this.#proxies.followHook(
        paths,
        event.type,
        event.type === 'started' ? line.pid : undefined,
        event.type === 'stopped' ? event.target : undefined,
      );
      this.env.onInstanceEvent(event);
    });
    this.#spool.start();
    void this.#recoverProxies();
  }

  /**
   * At engine start: forwarders of running containers kept running without
   * us; respawn any that died, and end those whose container stopped while
   * the engine was down.
   */
  async #recoverProxies(): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(this.layout.lxcPath);
    } catch {
      return;
    }
    for (const lxcName of names) {
      const id = parseContainerName(lxcName);
      if (id === undefined) continue;
      const paths = containerPaths(this.layout, id.project, id.name);
      if (!this.#proxies.hasRecords(paths)) continue;
      const init = this.#inits.running(paths);
      const work =
        init !== undefined ? this.#proxies.restore(paths, init) : this.#proxies.stopAll(paths);
      await work.catch(() => {});
    }
  }

  /** Stops watching the hook spool (the containers keep running). */
  close(): void {
    this.#spool.stop();
  }

  /** Reads hook lines now (tests; normally the watcher does it). */
  pollHooks(): void {
    this.#spool.poll();
  }

  paths(instance: Pick<DriverInstance, 'project' | 'name'>): ContainerPaths {
    return containerPaths(this.layout, instance.project, instance.name);
  }

  #idmap(instance: DriverInstance): IdmapSet | null {
    return instanceIdmap(instance.expandedConfig, this.#subidFiles());
  }

  async #resolveNics(instance: DriverInstance, paths: ContainerPaths): Promise<ResolvedNic[]> {
    const nics: ResolvedNic[] = [];
    for (const plan of planNics(instance.expandedConfig, instance.expandedDevices)) {
      const { bridge, mtu } = await resolveBridge(plan, this.env);
      const nic: ResolvedNic = {
        device: plan.device,
        name: plan.name,
        bridge,
        hostName: plan.hostName ?? vethName(this.layout, paths.name, plan.device),
      };
      if (plan.hwaddr) nic.hwaddr = plan.hwaddr;
      if (mtu) nic.mtu = mtu;
      nics.push(nic);
    }
    return nics;
  }

  /** Custom volumes of `disk` devices (`pool` + a volume `source`), shifted to the container's map, by device. */
  async #attachVolumes(
    instance: DriverInstance,
    idmap: IdmapSet | null,
  ): Promise<Map<string, string>> {
    const sources = new Map<string, string>();
    for (const [device, disk] of devicesOf(instance.expandedDevices, 'disk')) {
      const source = disk.source ?? '';
      if (!disk.pool || disk.path === '/' || source === '' || source.startsWith('/')) continue;
      if (!this.env.attachVolume) {
        throw new EngineError(
          'NOT_IMPLEMENTED',
          `devices["${device}"]: custom volumes need the engine's volume service`,
        );
      }
      sources.set(
        device,
        await this.env.attachVolume({
          pool: disk.pool,
          project: instance.project,
          volume: source,
          instance: instance.name,
          instanceType: instance.type,
          device,
          idmap,
        }),
      );
    }
    return sources;
  }

  /** `withNics: false` at create: networks are resolved (and brought up) at start, when the config is written again. */
  async #writeConfig(
    instance: DriverInstance,
    idmap: IdmapSet | null,
    options: {
      withNics?: boolean;
      unixDevices?: readonly ResolvedUnixDevice[];
      volumeSources?: ReadonlyMap<string, string>;
    } = {},
  ): Promise<ContainerPaths> {
    const paths = this.paths(instance);
    const text = renderLxcConfig({
      instance,
      paths,
      hookScript: this.layout.hookScript,
      idmap,
      nics: options.withNics === false ? [] : await this.#resolveNics(instance, paths),
      host: this.#host,
      unixDevices: options.unixDevices ?? [],
      ...(options.volumeSources ? { volumeSources: options.volumeSources } : {}),
      isDirectory: (source) => {
        try {
          return statSync(source).isDirectory();
        } catch {
          return true;
        }
      },
    });
    // The mapped root must traverse to its config and rootfs (notes §2).
    mkdirSync(paths.dir, { recursive: true, mode: 0o711 });
    chmodSync(paths.dir, 0o711);
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    // Root's only, as the config LXC itself saves: it holds raw.lxc, devices and the environment.
    writeFileSync(paths.config, text, { mode: 0o600 });
    chmodSync(paths.config, 0o600);
    return paths;
  }

  /** The last lines of lxc.log, for error messages (lxc-start's own stderr says "see the log"). */
  #logTail(paths: ContainerPaths): string {
    try {
      const lines = readFileSync(paths.lxcLog, 'utf8').trim().split('\n');
      return lines.slice(-8).join('\n');
    } catch {
      return '';
    }
  }

  async #requireRunning(
    instance: DriverInstance,
  ): Promise<{ paths: ContainerPaths; info: LxcInfo }> {
    const paths = this.paths(instance);
    const info = await this.#inits.info(paths);
    if (info.state !== 'RUNNING' || info.pid <= 0) throw this.notRunning(instance);
    return { paths, info };
  }

  #removeCgroups(paths: ContainerPaths): void {
    // lxc-start makes the parents then the leaves: removing an empty parent
    // in between fails that start. Leftovers go at the next stop or delete.
    if (this.#startsInFlight > 0) return;
    removeContainerCgroups([paths.cgroupPayload, paths.cgroupMonitor], this.#cgroupBases);
  }

  /** Whether a cgroup of the container is still there (any hierarchy, any base). */
  leftoverCgroups(paths: ContainerPaths): string[] {
    return leftoverCgroups([paths.cgroupPayload, paths.cgroupMonitor], this.#cgroupBases);
  }

  async #tidyAfterStop(paths: ContainerPaths): Promise<void> {
    this.#inits.record(paths, 0);
    const deadline = Date.now() + CGROUP_CLEANUP_MS;
    for (;;) {
      this.#removeCgroups(paths);
      if (this.leftoverCgroups(paths).length === 0 || Date.now() > deadline) return;
      await sleep(20);
    }
  }

  // --- InstanceDriver -----------------------------------------------------------

  /**
   * An unprivileged container's rootfs is shifted to its id map; the image
   * service keeps one shifted copy per image and map, so a launch copies it
   * instead of walking the copy again. A privileged one uses host ids as
   * the image has them: nothing to prepare.
   */
  imagePreparation(instance: DriverInstance): RootfsPreparation | null {
    const idmap = this.#idmap(instance);
    if (idmap === null) return null;
    const prepared = serializeIdmap(idmap);
    return {
      key: `idmap-${createHash('sha256').update(prepared).digest('hex').slice(0, 24)}`,
      prepare: async (rootfs) => {
        await shiftRootfs(rootfs, null, idmap);
      },
      prepared,
    };
  }

  async create(instance: DriverInstance, source: { prepared?: string }): Promise<void> {
    if (!existsSync(instance.paths.rootfs)) throw rootfsMissing(instance);
    // Copied from a shifted image tree: record its map, so the shift below
    // only does work if the map changed since (it never does within one create).
    if (source.prepared !== undefined) recordShift(instance, parseSerializedIdmap(source.prepared));
    const idmap = this.#idmap(instance);
    await shiftVolumeTo(instance, idmap);
    await secureVolume(instance, idmap);
    const paths = await this.#writeConfig(instance, idmap, { withNics: false });
    // Known stopped: status answers from this record instead of asking lxc-info.
    this.#inits.record(paths, 0);
  }

  async delete(instance: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    const info = await this.#inits.info(paths);
    if (info.state !== 'STOPPED') await this.stop(instance);
    await this.#proxies.stopAll(paths);
    // Never lxc-destroy: it deletes lxc.rootfs.path wherever it is (notes §3); storage owns the rootfs.
    rmSync(paths.dir, { recursive: true, force: true });
    rmSync(paths.logDir, { recursive: true, force: true });
    this.#removeLocks(paths);
    await this.#tidyAfterStop(paths);
  }

  async rename(instance: DriverInstance, newName: string): Promise<void> {
    const from = this.paths(instance);
    const to = this.paths({ project: instance.project, name: newName });
    const info = await this.#inits.info(from);
    if (info.state !== 'STOPPED') throw this.mustBeStopped(instance, 'renamed');
    if (existsSync(to.dir) || existsSync(to.logDir)) {
      throw new EngineError('ALREADY_EXISTS', `LXC files for ${newName} already exist (${to.dir})`);
    }
    if (existsSync(from.dir)) {
      renameSync(from.dir, to.dir);
      // Names and paths inside it are the old ones: start() writes a new one.
      rmSync(path.join(to.dir, 'config'), { force: true });
    }
    if (existsSync(from.logDir)) renameSync(from.logDir, to.logDir);
    this.#removeLocks(from);
  }

  /** LXC's lock files for a container (`/run/lxc/lock/<lxcpath>/.<name>`), left after it is gone. */
  #removeLocks(paths: ContainerPaths): void {
    const dir = path.join(LXC_LOCK_DIR, this.layout.lxcPath);
    rmSync(path.join(dir, `.${paths.name}`), { force: true });
    rmSync(path.join(dir, paths.name), { recursive: true, force: true });
  }

  async update(instance: DriverInstance, previous: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    const info = await this.#inits.info(paths);
    if (info.state !== 'RUNNING' || info.pid <= 0) return;
    const next = instance.expandedConfig;
    const before = previous.expandedConfig;
    const cgroups = ProcessCgroups.ofPid(info.pid);
    if (next['limits.memory'] !== before['limits.memory']) {
      const value = next['limits.memory']
        ? memoryLimitBytes(next['limits.memory'], this.#host.memoryBytes)
        : -1;
      cgroups.write('memory', 'memory.limit_in_bytes', String(value));
    }
    if (next['limits.cpu'] !== before['limits.cpu']) {
      const all = this.#host.cpus === 1 ? '0' : `0-${this.#host.cpus - 1}`;
      const cpus = next['limits.cpu']
        ? (cpusetFor(next['limits.cpu'], this.#host.cpus) ?? all)
        : all;
      cgroups.write('cpuset', 'cpuset.cpus', cpus);
    }
    if (next['limits.processes'] !== before['limits.processes']) {
      cgroups.write('pids', 'pids.max', next['limits.processes'] || 'max');
    }
    // Proxies and disks follow live; unix-char devices are made at the next start.
    await this.#proxies.sync(paths, info.pid, instance.expandedDevices);
    const idmap = this.#idmap(instance);
    await this.#disks.apply(
      info.pid,
      planDiskHotplug(previous.expandedDevices, instance.expandedDevices),
      { uid: idmap?.toHost('uid', 0) ?? 0, gid: idmap?.toHost('gid', 0) ?? 0 },
      async (disk) => {
        if (!this.env.attachVolume || !disk.pool)
          throw new EngineError(
            'NOT_IMPLEMENTED',
            `devices["${disk.name}"]: custom volumes need the engine's volume service`,
          );
        return this.env.attachVolume({
          pool: disk.pool,
          project: instance.project,
          volume: disk.source,
          instance: instance.name,
          instanceType: instance.type,
          device: disk.name,
          idmap,
        });
      },
    );
  }

  async start(instance: DriverInstance): Promise<void> {
    const paths = this.paths(instance);
    const info = await this.#inits.info(paths);
    if (info.state !== 'STOPPED') throw this.alreadyRunning(instance);
    const idmap = this.#idmap(instance);
    await shiftVolumeTo(instance, idmap);
    await secureVolume(instance, idmap);
    mkdirSync(paths.dir, { recursive: true, mode: 0o711 });
    const unixDevices = await makeDeviceNodes(
      planUnixDevices(instance.expandedDevices),
      path.join(paths.dir, 'devices'),
      idmap,
    );
    const volumeSources = await this.#attachVolumes(instance, idmap);
    await this.#writeConfig(instance, idmap, { unixDevices, volumeSources });
    readConsoleLog(paths.consoleLog);
    // Leftovers of a container that died without its post-stop (host crash).
    this.#removeCgroups(paths);
    this.#startsInFlight++;
    let init: number | undefined;
    try {
      // Returns once the container is RUNNING (notes §6).
      this.#inits.record(paths, undefined);
      await runLxc(this.layout, 'lxc-start', paths, ['-d']);
      init = this.#inits.find(paths);
      if (init !== undefined) this.#inits.record(paths, init);
      else {
        const started = await this.#inits.ask(paths);
        if (started.state === 'RUNNING') {
          init = started.pid;
          this.#inits.record(paths, started.pid);
        }
      }
    } catch (error) {
      const tail = this.#logTail(paths);
      const message = `Failed to start ${instance.name}: ${(error as CommandError).message}${tail ? `\n${tail}` : ''}`;
      throw new EngineError('INTERNAL', message, { cause: error });
    } finally {
      this.#startsInFlight--;
    }
    if (init === undefined) return;
    try {
      await this.#proxies.sync(paths, init, instance.expandedDevices);
    } catch (error) {
      // As LXD: a device that cannot start fails the start.
      await this.stop(instance).catch(() => {});
      throw error;
    }
  }

  async stop(instance: DriverInstance): Promise<void> {
    await this.#lxcStop(instance, ['-k'], 'stop');
  }

  async shutdown(instance: DriverInstance, timeoutMs: number): Promise<void> {
    if (!(timeoutMs > 0)) return this.stop(instance);
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    // Sends lxc.signal.halt (SIGPWR), waits, kills at the timeout.
    await this.#lxcStop(instance, ['-t', String(seconds)], 'shut down', seconds * 1000 + 30_000);
  }

  /** `timeoutMs`: of lxc-stop itself (default: every lxc-* tool's). */
  async #lxcStop(instance: DriverInstance, args: string[], verb: string, timeoutMs?: number) {
    const paths = this.paths(instance);
    const result = await runLxc(this.layout, 'lxc-stop', paths, args, {
      timeoutMs,
      allowFailure: true,
    });
    // 2: not running, which is what we want.
    if (result.exitCode !== 0 && result.exitCode !== 2) {
      throw new EngineError(
        'INTERNAL',
        `Failed to ${verb} ${instance.name}: ${result.stderr.trim()}`,
      );
    }
    await this.#proxies.stopAll(paths);
    await this.#tidyAfterStop(paths);
  }

  async #setFreezer(instance: DriverInstance, want: 'FROZEN' | 'THAWED'): Promise<void> {
    const { info } = await this.#requireRunning(instance);
    // lxc-freeze sleeps 1 s while polling; the cgroup file answers in a few ms (notes §6).
    const cgroups = ProcessCgroups.ofPid(info.pid);
    cgroups.write('freezer', 'freezer.state', want);
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    while (cgroups.readText('freezer', 'freezer.state') !== want) {
      if (Date.now() > deadline) {
        if (want === 'FROZEN') cgroups.write('freezer', 'freezer.state', 'THAWED');
        throw new EngineError(
          'INTERNAL',
          `${instance.name} did not reach ${want} within ${FREEZE_TIMEOUT_MS} ms`,
        );
      }
      await sleep(2);
    }
  }

  freeze(instance: DriverInstance): Promise<void> {
    return this.#setFreezer(instance, 'FROZEN');
  }

  unfreeze(instance: DriverInstance): Promise<void> {
    return this.#setFreezer(instance, 'THAWED');
  }

  /** The rootfs is a host tree, always whole: a snapshot copies a running container as it is. */
  withQuiescedStorage<T>(_instance: DriverInstance, work: () => Promise<T>): Promise<T> {
    return work();
  }

  async status(instance: DriverInstance): Promise<InstanceStatus> {
    return statusOf(await this.#inits.info(this.paths(instance)));
  }

  async renderState(instance: DriverInstance): Promise<InstanceState> {
    const paths = this.paths(instance);
    const info = await this.#inits.info(paths);
    const status = statusOf(info);
    const stopped = this.idleState(status);
    if (info.pid <= 0 || status === 'Stopped') return stopped;
    const usage = readCgroupUsage(ProcessCgroups.ofPid(info.pid));
    const hostNames = new Map(
      (await this.#resolveNicNames(instance, paths)).map(
        (nic) => [nic.name, nic.hostName] as const,
      ),
    );
    let network: InstanceState['network'] = null;
    try {
      network = await readNetwork(info.pid, hostNames);
    } catch {
      // The container may have stopped meanwhile.
    }
    return {
      ...stopped,
      memory: usage.memory,
      network,
      pid: info.pid,
      processes: usage.processes,
      cpu: { usage: usage.cpuNs },
    };
  }

  /** NIC names without asking networks to exist (renderState must not create bridges). */
  async #resolveNicNames(
    instance: DriverInstance,
    paths: ContainerPaths,
  ): Promise<{ name: string; hostName: string }[]> {
    try {
      return planNics(instance.expandedConfig, instance.expandedDevices).map((plan) => ({
        name: plan.name,
        hostName: plan.hostName ?? vethName(this.layout, paths.name, plan.device),
      }));
    } catch {
      return [];
    }
  }

  async exec(instance: DriverInstance, request: ExecRequest): Promise<ExecProcess> {
    const paths = this.paths(instance);
    if (request.interactive) return execPty(paths.name, this.layout.lxcPath, request);
    return execPiped(paths.name, this.layout.lxcPath, request);
  }

  async console(
    instance: DriverInstance,
    size: { cols: number; rows: number },
  ): Promise<ConsoleStream> {
    const { paths } = await this.#requireRunning(instance);
    return attachConsole(paths.name, this.layout.lxcPath, size);
  }

  /** A container has no screen: LXD's answer for a VGA console. */
  async graphicalConsole(_instance: DriverInstance): Promise<GraphicalConsoleStream> {
    throw new EngineError('NOT_IMPLEMENTED', 'VGA console is only supported by virtual machines');
  }

  #files(instance: DriverInstance): RootfsFiles {
    // The ids on disk are what the rootfs is shifted to, whatever the config says now.
    return new RootfsFiles(instance.paths.rootfs, currentShift(instance));
  }

  async filePull(
    instance: DriverInstance,
    filePath: string,
  ): Promise<{ entry: FileEntry; content?: Buffer; entries?: string[] }> {
    return this.#files(instance).pull(filePath);
  }

  async filePush(instance: DriverInstance, filePath: string, file: FileWrite): Promise<void> {
    this.#files(instance).push(filePath, file);
  }

  async stat(instance: DriverInstance, filePath: string): Promise<FileStat> {
    return this.#files(instance).stat(filePath);
  }

  async listDirectory(instance: DriverInstance, filePath: string): Promise<FileStat[]> {
    return this.#files(instance).list(filePath);
  }

  async fileRemove(instance: DriverInstance, filePath: string): Promise<void> {
    this.#files(instance).remove(filePath);
  }
}
