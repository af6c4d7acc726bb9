// The running QEMUs of one engine, as the driver reaches them: each VM's
// process (its pid file, checked against /proc/<pid>/cmdline), one QMP
// connection and one guest-agent connection per running VM, shared by every
// call. QEMU outlives the engine: a new engine finds its VMs again by pid
// file and reconnects to their QMP sockets (`reattach`), so an exit is
// noticed whoever started the VM. A VM whose QMP closes and whose process is
// gone has stopped, and that is news unless the driver is stopping it.
// Nothing is ever killed by name.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { sleep } from '../driver-common.ts';
import type { DriverEnvironment, DriverInstance } from '../driver.ts';
import { EngineError } from '../../errors.ts';
import { QgaClient, QgaError, agentNotRunning } from './qga-client.ts';
import { qemuRoot, vmPaths, type VmPaths } from './qemu-paths.ts';
import { QmpClient } from './qmp-client.ts';
import { deleteTap, recordedTaps } from './vm-nics.ts';

/** How long an agent may take to answer the sync before it counts as not running. */
const AGENT_SYNC_MS = 5_000;
/** State asks the agent too: a busy or absent one must not hold `lxc list` up for long. */
export const AGENT_STATE_SYNC_MS = 1_500;
/** After state found no agent, it asks again only this much later (exec and files always ask). */
const AGENT_RETRY_MS = 10_000;
/** How long the guest may take to write out and freeze (or thaw) its filesystems. */
const FSFREEZE_MS = 30_000;
const THAW_ATTEMPTS = 3;

type VmRef = Pick<DriverInstance, 'project' | 'name'>;

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

export class VmRuntime {
  readonly #env: Pick<DriverEnvironment, 'dataDir' | 'onInstanceEvent'>;
  readonly #monitors = new Map<string, Promise<QmpClient>>();
  /** One agent connection per running VM (QEMU's chardev takes one client at a time). */
  readonly #agents = new Map<string, Promise<QgaClient>>();
  /** Per VM, the agent connection opened but not synced yet (its guest may still boot). */
  readonly #unsynced = new Map<string, QgaClient>();
  /** When state last found no agent, per VM: state skips it for a while (`lxc list` must not wait each time). */
  readonly #agentMissingAt = new Map<string, number>();
  /** VMs being stopped by the driver: their exit is not news. */
  readonly #stopping = new Set<string>();
  #closed = false;

  constructor(env: Pick<DriverEnvironment, 'dataDir' | 'onInstanceEvent'>) {
    this.#env = env;
  }

  paths(instance: VmRef): VmPaths {
    return vmPaths(this.#env.dataDir, instance.project, instance.name);
  }

  /**
   * After an engine restart: reconnect to every VM still running, so its
   * exit is noticed; `onRunning` picks up what else a running VM needs (its shares).
   */
  reattach(onRunning?: (paths: VmPaths) => void): void {
    let names: string[];
    try {
      names = readdirSync(qemuRoot(this.#env.dataDir));
    } catch {
      return;
    }
    for (const name of names) {
      const at = name.lastIndexOf('_');
      if (at <= 0) continue;
      const vm = { project: name.slice(0, at), name: name.slice(at + 1) };
      const paths = this.paths(vm);
      if (this.pid(paths) > 0) {
        void this.#monitor(paths, vm).catch(() => {});
        onRunning?.(paths);
      }
      // Exited while no engine watched: its taps are still there.
      else void this.removeTaps(paths).catch(() => {});
    }
  }

  /** The QEMU pid from the pid file, if that process is ours (its cmdline names our QMP socket); else 0. */
  pid(paths: VmPaths): number {
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

  /** Connects to a VM just started, so its exit is noticed. */
  async watch(instance: VmRef): Promise<void> {
    await this.#monitor(this.paths(instance), instance);
  }

  async qmp(instance: VmRef, command: string, args?: Record<string, unknown>): Promise<unknown> {
    const client = await this.#monitor(this.paths(instance), instance);
    return client.execute(command, args);
  }

  /** The VM's QMP connection, opened once and shared; its close reports a stop. */
  #monitor(paths: VmPaths, vm: VmRef): Promise<QmpClient> {
    const existing = this.#monitors.get(paths.name);
    if (existing) return existing;
    const connecting = QmpClient.connect(paths.qmpSocket).then((client) => {
      client.onClose(() => {
        this.#monitors.delete(paths.name);
        if (this.#closed || this.#stopping.has(paths.name)) return;
        void (async () => {
          // QMP can close for other reasons; only an exit is a stop.
          const deadline = Date.now() + 5_000;
          while (this.pid(paths) > 0 && Date.now() < deadline) await sleep(100);
          if (this.pid(paths) === 0) {
            rmSync(paths.pidFile, { force: true });
            this.#dropAgent(paths);
            await this.removeTaps(paths).catch(() => {});
            this.#env.onInstanceEvent({
              type: 'stopped',
              project: vm.project,
              name: vm.name,
              target: 'stop',
            });
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

  /** The VM's agent connection, synced; LXD's "VM agent isn't currently running" when none answers. */
  agent(paths: VmPaths, syncMs = AGENT_SYNC_MS): Promise<QgaClient> {
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
    if (this.pid(paths) === 0) return Promise.reject(agentNotRunning());
    // The connection whose sync went unanswered is asked again: never a second one (qga-client.ts).
    const connecting = (async () => {
      let client = this.#unsynced.get(paths.name);
      if (!client || client.closed) {
        client = await QgaClient.open(paths.qgaSocket);
        this.#unsynced.set(paths.name, client);
        const opened = client;
        opened.onClose(() => {
          if (this.#unsynced.get(paths.name) === opened) this.#unsynced.delete(paths.name);
        });
      }
      await client.sync(syncMs);
      this.#unsynced.delete(paths.name);
      return client;
    })();
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

  /**
   * What state asks the agent (`ask`), on a short sync; undefined when no
   * agent answers, and then without asking again for a while.
   */
  async askAgentForState<T>(
    paths: VmPaths,
    ask: (agent: QgaClient) => Promise<T>,
  ): Promise<T | undefined> {
    const missingAt = this.#agentMissingAt.get(paths.name);
    if (missingAt !== undefined && Date.now() - missingAt < AGENT_RETRY_MS) return undefined;
    try {
      const answer = await ask(await this.agent(paths, AGENT_STATE_SYNC_MS));
      this.#agentMissingAt.delete(paths.name);
      return answer;
    } catch {
      this.#agentMissingAt.set(paths.name, Date.now());
      return undefined;
    }
  }

  /**
   * Asks the guest agent to freeze the guest's filesystems
   * (guest-fsfreeze-freeze: what the guest caches is written to its disk,
   * and writes wait), as libvirt's quiesce and Proxmox's backups do, so a
   * copy of the disk holds what was written before it. Best effort: without
   * an agent, or when the guest refuses, the disk is copied as QEMU has it
   * (as after a power cut). Returns the thaw, to run once the VM runs again.
   */
  async freezeGuestFilesystems(paths: VmPaths): Promise<() => Promise<void>> {
    let agent: QgaClient;
    try {
      agent = await this.agent(paths, AGENT_STATE_SYNC_MS);
    } catch {
      return async () => {};
    }
    try {
      await agent.execute('guest-fsfreeze-freeze', undefined, FSFREEZE_MS);
    } catch (error) {
      // It answered no (already frozen by someone else, or unsupported):
      // nothing of ours to thaw; the agent thaws what it froze before saying so.
      if (error instanceof QgaError) return async () => {};
      // No answer in time: it may still be freezing, so the thaw runs anyway.
    }
    return () => this.#thawGuestFilesystems(paths);
  }

  async #thawGuestFilesystems(paths: VmPaths): Promise<void> {
    let last: unknown;
    // The connection may have been dropped meanwhile (a request timed out
    // while QEMU was paused): `agent` connects and syncs again.
    for (let attempt = 0; attempt < THAW_ATTEMPTS; attempt++) {
      try {
        const agent = await this.agent(paths);
        await agent.execute('guest-fsfreeze-thaw', undefined, FSFREEZE_MS);
        return;
      } catch (error) {
        last = error;
        if (error instanceof QgaError || this.pid(paths) === 0) break;
      }
    }
    if (this.pid(paths) === 0) return;
    throw new EngineError(
      'INTERNAL',
      `The guest's filesystems of ${paths.name} could not be thawed (qemu-guest-agent: ${last instanceof Error ? last.message : String(last)})`,
    );
  }

  #dropAgent(paths: VmPaths): void {
    this.#agentMissingAt.delete(paths.name);
    this.#unsynced.get(paths.name)?.close();
    this.#unsynced.delete(paths.name);
    const agent = this.#agents.get(paths.name);
    this.#agents.delete(paths.name);
    void agent?.then(
      (c) => c.close(),
      () => {},
    );
  }

  async removeTaps(paths: VmPaths): Promise<void> {
    for (const tap of recordedTaps(paths.tapsFile)) await deleteTap(tap);
    rmSync(paths.tapsFile, { force: true });
  }

  /** Runs `stop` with the VM's exit expected (no `stopped` event of its own). */
  async stopping<T>(paths: VmPaths, stop: () => Promise<T>): Promise<T> {
    this.#stopping.add(paths.name);
    try {
      return await stop();
    } finally {
      this.#stopping.delete(paths.name);
    }
  }

  /** Waits until the VM's process is gone; false at the timeout. */
  async waitExit(pid: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!isAlive(pid)) return true;
      await sleep(50);
    }
    return !isAlive(pid);
  }

  /** What an exited VM leaves behind: its connections, taps, pid file and sockets. */
  async afterExit(paths: VmPaths): Promise<void> {
    this.#dropAgent(paths);
    await this.removeTaps(paths);
    rmSync(paths.pidFile, { force: true });
    rmSync(paths.qmpSocket, { force: true });
    rmSync(paths.consoleSocket, { force: true });
    rmSync(paths.qgaSocket, { force: true });
    this.#monitors.delete(paths.name);
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
    for (const client of this.#unsynced.values()) client.close();
    this.#unsynced.clear();
    for (const monitor of this.#monitors.values())
      void monitor.then(
        (c) => c.close(),
        () => {},
      );
    this.#monitors.clear();
  }
}
