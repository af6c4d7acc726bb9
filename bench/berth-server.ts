// Subject 3: Berth as users run it, the real server (apps/web/server.ts under
// tsx, NODE_ENV=production, as `npm start` runs it) on a temp data
// directory, a free loopback port and its own bridge, driven through its
// unix socket exactly as LXD is (daemon-subject.ts).
//
// The spawn and clean-up follow apps/web/e2e/helpers/server.ts, copied
// rather than imported so the bench does not load web code. The console is
// built into apps/web/.next-bench (BERTH_NEXT_DIST_DIR), apart from anyone
// else's build: the first start builds it (a minute or two), later starts
// reuse it until the web sources change.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchImage } from './bench-image.ts';
import type { BenchVmImage } from './bench-vm-image.ts';
import { DaemonSubject, type Daemon } from './daemon-subject.ts';
import { DaemonVmSubject } from './daemon-vm-subject.ts';
import { LxdClient } from './lxd-client.ts';
import { killQemusUnder } from './qemu-processes.ts';
import { NotAvailable } from './subject.ts';

const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../apps/web');
const NEXT_DIST_DIR = '.next-bench';
/** A first start on a loaded two-core machine builds for minutes. */
const READY_TIMEOUT_MS = 15 * 60_000;
const STOP_GRACE_MS = 15_000;
/** How much of the server's output to keep for error messages. */
const OUTPUT_KEEP = 16_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once `socket` answers GET /1.0. */
async function answers(socket: string): Promise<boolean> {
  const client = new LxdClient(socket);
  try {
    await client.request('GET', '/1.0');
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

export class BerthServer implements Daemon {
  readonly description = `apps/web/server.ts under tsx, NODE_ENV=production, on a temp data dir (console build in apps/web/${NEXT_DIST_DIR})`;

  #dataDir: string | null = null;
  /** The data directory (LXD_DIR: its unix.socket), once started. */
  get dataDir(): string | null {
    return this.#dataDir;
  }

  /** The process started (tsx's launcher, or the server itself with nodeArgs), while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The loopback port of the network listener, once started. */
  port = 0;
  /** The first admin's password (given to the server, so it need not be changed at first login). */
  readonly adminPassword = `bench-${randomBytes(12).toString('hex')}`;
  readonly #bridge = `bs${randomBytes(4).toString('hex')}`;
  #child: ChildProcess | null = null;
  #output = '';
  /** Stops the server if the bench leaves without cleaning up (a second Ctrl-C). */
  readonly #onExit = () => {
    if (this.#child?.pid && this.#child.exitCode === null) process.kill(this.#child.pid, 'SIGTERM');
  };

  constructor(
    private readonly log: (line: string) => void,
    /**
     * Node options for the server (bench/profile.ts: --cpu-prof). Given, the
     * server runs as `node <options> --import tsx server.ts` (tsx's loader in
     * the server's own process, whose options the command sidecar's fork
     * inherits) rather than through tsx's launcher process.
     */
    private readonly nodeArgs: string[] = [],
  ) {}

  async start(): Promise<string> {
    if (process.getuid?.() !== 0) throw new NotAvailable('needs root (Berth runs as root)');
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-berth-'));
    this.#dataDir = dataDir;
    const port = await freePort();
    this.port = port;
    const require = createRequire(import.meta.url);
    const args =
      this.nodeArgs.length > 0
        ? [...this.nodeArgs, '--import', pathToFileURL(require.resolve('tsx')).href, 'server.ts']
        : [require.resolve('tsx/cli'), 'server.ts'];
    const began = performance.now();
    if (!existsSync(path.join(WEB_DIR, NEXT_DIST_DIR, 'BUILD_ID')))
      this.log(`Berth: first start builds the console into apps/web/${NEXT_DIST_DIR} (1-2 min)`);
    const child = spawn(process.execPath, args, {
      cwd: WEB_DIR,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        NEXT_TELEMETRY_DISABLED: '1',
        BERTH_NEXT_DIST_DIR: NEXT_DIST_DIR,
        BERTH_DATA_DIR: dataDir,
        BERTH_LISTEN: `127.0.0.1:${port}`,
        BERTH_BRIDGE: this.#bridge,
        BERTH_ADMIN_USER: 'admin',
        BERTH_ADMIN_PASSWORD: this.adminPassword,
      },
      // Its own process group: a Ctrl-C in the terminal reaches the bench,
      // which cleans up through the server before stopping it.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    process.on('exit', this.#onExit);
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_KEEP);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);

    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`Berth did not start in ${READY_TIMEOUT_MS / 1000} s:\n${this.#output}`),
          ),
        READY_TIMEOUT_MS,
      );
      const check = () => {
        if (!/Berth is listening on /.test(this.#output)) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      };
      child.stdout!.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Berth's server exited (${code ?? signal}):\n${this.#output}`));
      });
    });
    const socket = path.join(dataDir, 'unix.socket');
    if (!(await answers(socket)))
      throw new Error(`Berth is listening but ${socket} does not answer:\n${this.#output}`);
    this.log(
      `Berth: server pid ${child.pid} up in ${((performance.now() - began) / 1000).toFixed(1)} s on 127.0.0.1:${port}, socket ${socket}`,
    );
    return dataDir;
  }

  async stop(): Promise<string[]> {
    const warnings: string[] = [];
    const child = this.#child;
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid, 'SIGTERM');
      const killed = setTimeout(() => {
        warnings.push(
          `server pid ${child.pid} ignored SIGTERM for ${STOP_GRACE_MS / 1000} s: killed`,
        );
        if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
      }, STOP_GRACE_MS);
      await exited;
      clearTimeout(killed);
    }
    this.#child = null;
    process.off('exit', this.#onExit);
    if (this.#dataDir) {
      warnings.push(...(await removeHostState(this.#dataDir, this.#bridge)));
      await rm(this.#dataDir, { recursive: true, force: true }).catch((error: unknown) =>
        warnings.push(`data dir ${this.#dataDir}: ${String(error)}`),
      );
      this.#dataDir = null;
    }
    return warnings;
  }
}

/**
 * Containers, VMs (QEMU), dnsmasq and the bridge outlive the server (as
 * LXD's do): remove what this server left, each by its own name or pid
 * file. Instances the bench deleted through the API leave nothing here;
 * this is for a run that broke half-way.
 */
async function removeHostState(dataDir: string, bridge: string): Promise<string[]> {
  const warnings = await killQemusUnder(dataDir);
  const lxcPath = path.join(dataDir, 'lxc');
  const names = await readdir(lxcPath, { withFileTypes: true }).catch(() => []);
  for (const entry of names) {
    if (!entry.isDirectory()) continue;
    warnings.push(`container ${entry.name} was left behind: stopped with lxc-stop -k`);
    spawnSync('lxc-stop', ['-k', '-n', entry.name, '-P', lxcPath], {
      stdio: 'ignore',
      timeout: 30_000,
    });
  }
  const pidFile = path.join(dataDir, 'networks', bridge, 'dnsmasq.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  spawnSync('ip', ['link', 'del', bridge], { stdio: 'ignore', timeout: 10_000 });
  return warnings;
}

export function berthServerSubject(options: {
  project: string;
  image: BenchImage;
  log: (line: string) => void;
  /** The server to drive (bench/profile.ts makes its own, to reach its listener too). */
  server?: BerthServer;
}): DaemonSubject {
  return new DaemonSubject({
    id: 'berth',
    label: 'Berth (server)',
    daemon: options.server ?? new BerthServer(options.log),
    project: options.project,
    image: options.image,
  });
}

/** The same server for the virtual-machine section (a server of its own, started and stopped with it). */
export function berthServerVmSubject(options: {
  project: string;
  image: BenchVmImage;
  log: (line: string) => void;
}): DaemonVmSubject {
  return new DaemonVmSubject({
    id: 'berth',
    label: 'Berth (server)',
    daemon: new BerthServer(options.log),
    project: options.project,
    image: options.image,
  });
}
