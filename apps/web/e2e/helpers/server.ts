// Starts the real Berth server (server.ts under tsx) on a free loopback port
// with a fresh data directory, and stops it by its own pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Shared by every test server and engine on this machine (BERTH_CACHE_DIR). */
export const BUILD_CACHE_DIR = path.join(os.tmpdir(), 'berth-build-cache');

export interface RunningServer {
  url: string;
  dataDir: string;
  bridge: string;
  adminUser: string;
  adminPassword: string;
  output(): string;
  stop(): Promise<void>;
}

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

export async function startServer(
  options: {
    readyTimeoutMs?: number;
    generatedAdminPassword?: boolean;
    /** Extra environment (BERTH_OIDC_*, BERTH_TLS_*, BERTH_LISTEN, ...) over the defaults. */
    env?: NodeJS.ProcessEnv;
    /**
     * Restart on an earlier server's data directory and bridge (pass both);
     * the directory is then left for the caller to remove.
     */
    dataDir?: string;
    bridge?: string;
  } = {},
): Promise<RunningServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'berth-web-e2e-')));
  const port = await freePort();
  // Its own bridge, so tests never touch (or fight over) a real berthbr0.
  const bridge = options.bridge ?? `bt${randomBytes(5).toString('hex')}`;
  let adminPassword = 'e2e-admin-password-1';
  const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
  const child: ChildProcess = spawn(process.execPath, [tsxCli, 'server.ts'], {
    cwd: appDir,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      BERTH_DATA_DIR: dataDir,
      BERTH_LISTEN: `127.0.0.1:${port}`,
      BERTH_BRIDGE: bridge,
      // Kernel and agent packages for VM images, downloaded once per machine, not per server.
      BERTH_CACHE_DIR: BUILD_CACHE_DIR,
      BERTH_ADMIN_USER: 'admin',
      ...(options.generatedAdminPassword ? {} : { BERTH_ADMIN_PASSWORD: adminPassword }),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      process.kill(child.pid, 'SIGTERM');
      const killed = setTimeout(
        () => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'),
        15_000,
      );
      await exited;
      clearTimeout(killed);
    }
    await removeHostState(dataDir, bridge);
    if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
  };

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start in time:\n${output}`)),
      options.readyTimeoutMs ?? 400_000,
    );
    const check = () => {
      const m = /Berth is listening on (\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });

  if (options.generatedAdminPassword) {
    const m = /Created server admin "admin" with password: (\S+)/.exec(output);
    if (!m) throw new Error(`no generated password printed:\n${output}`);
    adminPassword = m[1]!;
  }
  return { url, dataDir, bridge, adminUser: 'admin', adminPassword, output: () => output, stop };
}

/**
 * Containers, dnsmasq and bridge outlive the server (as LXD's do): remove
 * what this test server left, each by its own name or pid file.
 */
async function removeHostState(dataDir: string, bridge: string): Promise<void> {
  const lxcPath = path.join(dataDir, 'lxc');
  const names = await readdir(lxcPath, { withFileTypes: true }).catch(() => []);
  for (const entry of names) {
    if (!entry.isDirectory()) continue;
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
}
