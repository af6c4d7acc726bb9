// VM subject 1, the floor: qemu-system-x86_64 started by hand with the very
// command line Berth's engine builds (buildQemuArgs, drivers/qemu/qemu-args.ts)
// on the same files: the tiny VM image's kernel, initrd and root disk
// (buildTinyVmImage with `rootDisk`, what the busybox VM image is) under a
// qcow2 overlay, the accelerator the engine's own probe picks, one tap on a
// scratch bridge as Berth's default profile gives a VM. The bridge gets a
// free 10.x.y.1/24 and the engine's own dnsmasq command line (no NAT): the
// guest's init asks for a DHCP lease before it starts its agent, and
// unanswered it waits ~9 s, which Berth's managed bridge never makes it
// do, so the floor answers too. The guest agent is
// spoken by hand (qemu-sockets.ts): nothing reaches "agent ready" or runs
// `true` in the guest faster than these few socket writes, so this column
// says how much of Berth's time is its own.
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_VM_CPUS,
  DEFAULT_VM_MEMORY_BYTES,
  buildQemuArgs,
  type Accelerator,
} from '../packages/engine/src/drivers/qemu/qemu-args.ts';
import { probeQemu } from '../packages/engine/src/drivers/qemu/qemu-factory.ts';
import { vmPaths, type VmPaths } from '../packages/engine/src/drivers/qemu/qemu-paths.ts';
import { buildDnsmasqArgs, dnsmasqFiles } from '../packages/engine/src/network/dnsmasq-args.ts';
import { startDnsmasq, stopDnsmasq } from '../packages/engine/src/network/dnsmasq-process.ts';
import {
  defaultDhcpRange,
  parseCidr,
  pickFreeSubnet,
  usedSubnetsOf,
} from '../packages/engine/src/network/ipv4.ts';
import { buildTinyVmImage, type TinyVmImage } from '../packages/engine/src/images/tiny-vm-image.ts';
import { AGENT_READY_MS } from './agent-ready.ts';
import { BUILD_CACHE_DIR } from './bench-vm-image.ts';
import { haveCommand, runHost } from './host-command.ts';
import { acceleratorOfPid, isAlive, qemuPid, waitExit } from './qemu-processes.ts';
import { RawQga, RawQmp } from './qemu-sockets.ts';
import { NotAvailable } from './subject.ts';
import type { VmPath, VmSubject } from './vm-subject.ts';

/** The busybox VM image's root disk size (image-builds.ts BUSYBOX_VM_DISK_BYTES). */
const ROOT_DISK_BYTES = 256 * 1024 * 1024;
const POWER_OFF_MS = 60_000;
const QEMU = 'qemu-system-x86_64';

interface RunningVm {
  paths: VmPaths;
  tap: string;
  pid: number;
  qga: RawQga;
}

export class RawQemuSubject implements VmSubject {
  readonly id = 'raw' as const;
  readonly label = 'raw QEMU';
  readonly paths: { api: VmPath };
  /** The accelerator the engine's probe chose, once prepared. */
  accel: Accelerator | null = null;

  #work: string | null = null;
  #image: TinyVmImage | null = null;
  #bridge: string | null = null;
  #dnsmasqPid = 0;
  readonly #vms = new Set<string>();
  readonly #running = new Map<string, RunningVm>();
  /**
   * A second Ctrl-C leaves without clean-up: QEMU and dnsmasq are daemons,
   * so they are killed by pid here, and the taps, bridge and files go too
   * (synchronously: nothing asynchronous runs at exit).
   */
  readonly #onExit = () => {
    for (const pid of [...[...this.#running.values()].map((vm) => vm.pid), this.#dnsmasqPid]) {
      try {
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const link of [...[...this.#running.values()].map((vm) => vm.tap), this.#bridge])
      if (link) spawnSync('ip', ['link', 'del', 'dev', link], { stdio: 'ignore', timeout: 5_000 });
    if (this.#work) rmSync(this.#work, { recursive: true, force: true });
  };

  /** `runTag`: the run's tag, in the bridge's, taps' and work dir's names. */
  constructor(private readonly runTag: string) {
    this.paths = { api: this.#path() };
  }

  get #dir(): string {
    if (!this.#work) throw new Error('raw QEMU: not prepared');
    return this.#work;
  }

  #vmDir(name: string): string {
    return path.join(this.#dir, 'vms', name);
  }

  #vmPaths(name: string): VmPaths {
    return vmPaths(this.#dir, 'raw', name);
  }

  async prepare(): Promise<void> {
    if (process.getuid?.() !== 0) throw new NotAvailable('needs root (taps on a bridge)');
    for (const tool of [QEMU, 'qemu-img', 'ip', 'mke2fs']) {
      if (!(await haveCommand(tool)))
        throw new NotAvailable(
          `${tool} is not installed (apt-get install -y qemu-system-x86 qemu-utils e2fsprogs)`,
        );
    }
    // The engine's own probe: KVM only when a probe guest runs under it, else TCG.
    const support = await probeQemu();
    if (!support.available) throw new NotAvailable(support.reason ?? `${QEMU} cannot run here`);
    this.accel = support.details?.['accel'] === 'kvm' ? 'kvm' : 'tcg';
    // Short: the sockets' paths must fit in 107 bytes.
    this.#work = await mkdtemp(path.join(os.tmpdir(), `bench-qemu-${this.runTag}-`));
    this.#image = await buildTinyVmImage({
      cacheDir: path.join(BUILD_CACHE_DIR, 'tiny-vm'),
      outDir: path.join(this.#work, 'image'),
      rootDisk: { sizeBytes: ROOT_DISK_BYTES },
    });
    this.#bridge = `bq${this.runTag}`;
    await runHost('ip', ['link', 'add', this.#bridge, 'type', 'bridge']);
    await runHost('ip', ['link', 'set', this.#bridge, 'up']);
    process.on('exit', this.#onExit);
    await this.#startDhcp(this.#bridge);
  }

  #dnsmasqDir(): string {
    return path.join(this.#dir, 'dnsmasq');
  }

  /** A free subnet on the bridge and dnsmasq on it, as Berth's managed network has (NAT off). */
  async #startDhcp(bridge: string): Promise<void> {
    const json = async (args: string[]) =>
      JSON.parse((await runHost('ip', args, { needStdout: true })).stdout) as unknown;
    const used = usedSubnetsOf(
      await json(['-j', '-4', 'route', 'show', 'table', 'all']),
      await json(['-j', '-4', 'addr', 'show']),
    );
    const subnet = pickFreeSubnet(used);
    if (!subnet) throw new Error('no free 10.x.y.0/24 for the scratch bridge');
    await runHost('ip', ['addr', 'add', subnet, 'dev', bridge]);
    const range = defaultDhcpRange(parseCidr(subnet)!);
    const files = dnsmasqFiles(this.#dnsmasqDir());
    await mkdir(this.#dnsmasqDir(), { mode: 0o700 });
    await writeFile(files.hosts, '');
    const args = buildDnsmasqArgs({
      bridge,
      gateway: subnet.split('/')[0]!,
      ranges: [{ start: range.start, end: range.end }],
      netmask: range.netmask,
      leaseTime: '1h',
      files,
    });
    this.#dnsmasqPid = await startDnsmasq(bridge, args, files.pid);
  }

  /** Taps, QEMU, and the agent's first answer and `true`: what Berth's start + first exec do. */
  async #boot(name: string): Promise<void> {
    const image = this.#image!;
    const paths = this.#vmPaths(name);
    await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
    await mkdir(paths.logDir, { recursive: true, mode: 0o700 });
    // Interface names have 15 bytes: `bq` + the run tag + 6 random hex digits.
    const tap = `bq${this.runTag}${randomBytes(3).toString('hex')}`;
    // Recorded before it exists, as Berth does, so a broken run's clean-up finds it.
    await writeFile(paths.tapsFile, `${JSON.stringify([tap])}\n`, { mode: 0o600 });
    await runHost('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await runHost('ip', ['link', 'set', 'dev', tap, 'master', this.#bridge!]);
    await runHost('ip', ['link', 'set', 'dev', tap, 'up']);
    const hwaddr = `00:16:3e:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
    const args = buildQemuArgs({
      paths,
      accel: this.accel!,
      cpus: DEFAULT_VM_CPUS,
      memoryBytes: DEFAULT_VM_MEMORY_BYTES,
      kernel: { kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline },
      rootDisk: path.join(this.#vmDir(name), 'root.qcow2'),
      nics: [{ device: 'eth0', tap, hwaddr }],
      uuid: randomUUID(),
    });
    // -daemonize: the command exits once QEMU is set up (sockets listening, pid file written).
    await runHost(QEMU, args, { timeoutMs: 30_000 });
    const pid = qemuPid(paths.runDir);
    if (pid === 0) throw new Error(`${QEMU} for ${name} exited at once (see ${paths.qemuLog})`);
    const qga = await RawQga.connect(paths.qgaSocket);
    this.#running.set(name, { paths, tap, pid, qga });
    await qga.waitReady(AGENT_READY_MS);
    const code = await qga.run(['/bin/true']);
    if (code !== 0) throw new Error(`true in ${name}: exit code ${code}`);
  }

  /** What Berth does after QEMU exits: drop the agent, the tap, the sockets and pid file. */
  async #afterExit(name: string): Promise<void> {
    const vm = this.#running.get(name);
    if (!vm) return;
    this.#running.delete(name);
    vm.qga.close();
    await runHost('ip', ['link', 'del', 'dev', vm.tap], { allowFailure: true });
    for (const file of [
      vm.paths.pidFile,
      vm.paths.qmpSocket,
      vm.paths.qgaSocket,
      vm.paths.consoleSocket,
      vm.paths.tapsFile,
    ])
      await rm(file, { force: true });
  }

  #vm(name: string): RunningVm {
    const vm = this.#running.get(name);
    if (!vm) throw new Error(`raw QEMU: ${name} is not running`);
    return vm;
  }

  #path(): VmPath {
    return {
      method:
        `${QEMU} with the engine's buildQemuArgs command line (q35, ${DEFAULT_VM_CPUS} vCPU, ${DEFAULT_VM_MEMORY_BYTES / 1024 ** 3} GiB, direct kernel boot of the ` +
        "tiny VM image, qcow2 overlay on its root disk, virtio-serial agent channel, -daemonize; one tap on a scratch bridge whose dnsmasq has the engine's command line), " +
        'each step spawned or spoken from Node. launch = `qemu-img create` overlay + tap + QEMU + QGA guest-sync-delimited until answered + ' +
        'guest-exec `/bin/true`; start = the same without the overlay; exec = guest-exec + guest-exec-status back to back on one agent connection; ' +
        "stop = QGA guest-shutdown, until QEMU exits; stop --force = QMP `quit`, until QEMU exits; delete = `rm -rf` of the VM's files",
      launch: async (name) => {
        const dir = this.#vmDir(name);
        this.#vms.add(name);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await runHost('qemu-img', [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-b',
          this.#image!.disk!,
          '-F',
          'qcow2',
          path.join(dir, 'root.qcow2'),
        ]);
        await this.#boot(name);
      },
      start: (name) => this.#boot(name),
      exec: async (name) => {
        const code = await this.#vm(name).qga.run(['/bin/true']);
        if (code !== 0) throw new Error(`true in ${name}: exit code ${code}`);
      },
      stop: async (name) => {
        const vm = this.#vm(name);
        vm.qga.shutdown();
        if (!(await waitExit(vm.pid, POWER_OFF_MS)))
          throw new Error(
            `${name} did not power off within ${POWER_OFF_MS / 1000} s of guest-shutdown`,
          );
        await this.#afterExit(name);
      },
      stopForce: async (name) => {
        const vm = this.#vm(name);
        const qmp = await RawQmp.connect(vm.paths.qmpSocket);
        // QEMU may close the socket before its answer arrives: the exit is what counts.
        await qmp.execute('quit').catch(() => undefined);
        qmp.close();
        if (!(await waitExit(vm.pid, 10_000))) throw new Error(`QEMU of ${name} did not quit`);
        await this.#afterExit(name);
      },
      delete: async (name) => {
        const paths = this.#vmPaths(name);
        await runHost('rm', ['-rf', this.#vmDir(name), paths.runDir, paths.logDir]);
        this.#vms.delete(name);
      },
    };
  }

  async status(name: string): Promise<string> {
    const vm = this.#running.get(name);
    if (!vm || !isAlive(vm.pid)) return 'Stopped';
    const qmp = await RawQmp.connect(vm.paths.qmpSocket);
    try {
      const answer = (await qmp.execute('query-status')) as { status?: string };
      return answer.status === 'running' ? 'Running' : (answer.status ?? 'unknown');
    } finally {
      qmp.close();
    }
  }

  accelerator(name: string): Promise<string | null> {
    const vm = this.#running.get(name);
    return Promise.resolve(vm ? acceleratorOfPid(vm.pid) : null);
  }

  async remove(name: string): Promise<void> {
    const vm = this.#running.get(name);
    if (vm && isAlive(vm.pid)) {
      process.kill(vm.pid, 'SIGKILL');
      await waitExit(vm.pid, 10_000, 50);
    }
    await this.#afterExit(name);
    const paths = this.#vmPaths(name);
    for (const dir of [this.#vmDir(name), paths.runDir, paths.logDir])
      await rm(dir, { recursive: true, force: true });
    this.#vms.delete(name);
  }

  async cleanup(): Promise<string[]> {
    const warnings: string[] = [];
    if (this.#work) {
      for (const name of new Set([...this.#vms, ...this.#running.keys()])) {
        await this.remove(name).catch((error: unknown) =>
          warnings.push(`${name}: ${String(error)}`),
        );
      }
    }
    if (this.#bridge && this.#dnsmasqPid > 0) {
      await stopDnsmasq(this.#bridge, dnsmasqFiles(this.#dnsmasqDir()).pid).catch(
        (error: unknown) => warnings.push(`dnsmasq pid ${this.#dnsmasqPid}: ${String(error)}`),
      );
      this.#dnsmasqPid = 0;
    }
    if (this.#work) {
      await rm(this.#work, { recursive: true, force: true }).catch((error: unknown) =>
        warnings.push(String(error)),
      );
      this.#work = null;
    }
    if (this.#bridge) {
      const result = await runHost('ip', ['link', 'del', this.#bridge], { allowFailure: true });
      if (result.exitCode !== 0) warnings.push(`bridge ${this.#bridge}: ${result.stderr.trim()}`);
      this.#bridge = null;
    }
    process.off('exit', this.#onExit);
    return warnings;
  }
}
