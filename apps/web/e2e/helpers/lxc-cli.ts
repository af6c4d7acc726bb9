// Debian's real `lxc` client (lxd-client 5.0.2) against a Berth server's
// unix socket (`LXD_DIR=<data dir>`), with a throwaway client config
// (`LXD_CONF`, `HOME`) so the user's own is never read or written. Also
// LXD's own test image, as lxd/test/deps/import-busybox makes it: a busybox
// rootfs and a metadata.yaml written in JSON form.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const LXC = '/usr/bin/lxc';

export interface LxcRun {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface LxcCli {
  /** Runs `lxc args...`; resolves when it exits, whatever its status. */
  run(args: string[], options?: { input?: string | Buffer; timeoutMs?: number }): Promise<LxcRun>;
  /** `lxc args...` that must succeed: its stdout, or an error with its stderr. */
  ok(args: string[], options?: { input?: string | Buffer }): Promise<string>;
  /** `lxc ... --format csv` as rows of columns. */
  csv(args: string[]): Promise<string[][]>;
  /** The client's environment (LXD_DIR, LXD_CONF, HOME), for spawning it on a terminal. */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

export async function lxcCli(dataDir: string): Promise<LxcCli> {
  // setup.sh installs lxd-client: without its `lxc` this proof cannot run, which is a failure.
  if (!existsSync(LXC))
    throw new Error(`${LXC} is missing: install lxd-client (scripts/setup.sh does)`);
  const home = await mkdtemp(path.join(os.tmpdir(), 'berth-lxc-cli-'));
  const { LXD_CONF: _conf, LXD_DIR: _dir, ...inherited } = process.env;
  void _conf;
  void _dir;
  const env = {
    ...inherited,
    HOME: home,
    LXD_CONF: path.join(home, 'lxc-config'),
    LXD_DIR: dataDir,
  };
  const children = new Set<ChildProcess>();

  const run: LxcCli['run'] = (args, options = {}) =>
    new Promise<LxcRun>((resolve, reject) => {
      const started = Date.now();
      const child = spawn(LXC, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
      child.once('error', reject);
      child.once('close', (status) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ status, stdout, stderr, ms: Date.now() - started });
      });
      child.stdin!.on('error', () => {});
      child.stdin!.end(options.input ?? '');
    });

  const ok: LxcCli['ok'] = async (args, options = {}) => {
    const result = await run(args, options);
    if (result.status !== 0)
      throw new Error(`lxc ${args.join(' ')} exited with ${result.status}: ${result.stderr}`);
    return result.stdout;
  };

  return {
    run,
    ok,
    env: env as Record<string, string>,
    async csv(args) {
      const out = await ok([...args, '--format', 'csv']);
      return out
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(','));
    },
    async close() {
      for (const child of children) child.kill('SIGKILL');
      await rm(home, { recursive: true, force: true });
    },
  };
}

/**
 * Writes LXD's test image (lxd/test/deps/import-busybox) into `dir`: a
 * rootfs of the host's static busybox with its applets linked, an empty
 * inittab (busybox init then idles), one template, and metadata.yaml as
 * `json.dumps` writes it. Returns the tarball's path.
 */
export async function writeLxdTestImage(dir: string, busybox = '/bin/busybox'): Promise<string> {
  const arch = os.arch() === 'x64' ? 'x86_64' : os.arch();
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'dev', 'etc', 'mnt', 'proc', 'root', 'sbin', 'sys', 'tmp'])
    await mkdir(path.join(rootfs, d), { recursive: true });
  await chmod(path.join(rootfs, 'tmp'), 0o1777);
  await copyFile(busybox, path.join(rootfs, 'bin/busybox'));
  await chmod(path.join(rootfs, 'bin/busybox'), 0o755);
  const list = spawnSync(busybox, ['--list-full'], { encoding: 'utf8', timeout: 10_000 });
  for (const applet of list.stdout.split('\n').map((l) => l.trim())) {
    if (!applet || applet === 'bin/busybox' || applet.startsWith('/') || applet.includes('..'))
      continue;
    await mkdir(path.join(rootfs, path.dirname(applet)), { recursive: true });
    await symlink('/bin/busybox', path.join(rootfs, applet)).catch(() => undefined);
  }
  await writeFile(path.join(rootfs, 'etc/inittab'), '');
  await writeFile(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await mkdir(path.join(dir, 'templates'));
  await writeFile(path.join(dir, 'templates/template.tpl'), 'name: {{ container.name }}\n');
  const metadata = {
    architecture: arch,
    creation_date: Math.floor(Date.now() / 1000),
    properties: {
      architecture: arch,
      description: `Busybox ${arch}`,
      name: `busybox-${arch}`,
      os: 'Busybox',
    },
    templates: {
      '/template': { template: 'template.tpl', when: ['create'] },
    },
  };
  await writeFile(path.join(dir, 'metadata.yaml'), JSON.stringify(metadata));
  const tarball = path.join(dir, 'testimage.tar.xz');
  const tar = spawnSync(
    'tar',
    ['-cJf', tarball, '-C', dir, '--numeric-owner', 'metadata.yaml', 'rootfs', 'templates'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  return tarball;
}
