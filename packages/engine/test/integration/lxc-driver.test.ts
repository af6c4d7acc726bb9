// The LXC driver against real containers: busybox root filesystems in a
// temporary data dir, unprivileged by default, one privileged with a NIC on
// a test bridge this file creates and removes.
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  DriverInstance,
  ExecProcess,
  ExecRequest,
  InstanceHostEvent,
} from '../../src/drivers/driver.ts';
import { LxcDriver } from '../../src/drivers/lxc/lxc-driver.ts';
import { probeLxc } from '../../src/drivers/lxc/lxc-factory.ts';
import {
  DEFAULT_BUSYBOX,
  probeBusybox,
  writeBusyboxRootfs,
} from '../../src/images/busybox-rootfs.ts';

const run = randomBytes(3).toString('hex');
const project = `lxct${run}`;
const bridge = `bt${randomBytes(4).toString('hex')}`;
const support = await probeLxc();

let dataDir: string;
let driver: LxcDriver;
const events: InstanceHostEvent[] = [];
const created: DriverInstance[] = [];
let bridgeMade = false;
const timings: Record<string, number> = {};

/** The engine's own busybox image rootfs (as host root: the driver shifts it). */
const busybox = await probeBusybox(DEFAULT_BUSYBOX);

async function instance(
  name: string,
  config: Record<string, string> = {},
  devices: DriverInstance['expandedDevices'] = {},
): Promise<DriverInstance> {
  const dir = path.join(dataDir, 'storage', name);
  const rootfs = path.join(dir, 'rootfs');
  if (!existsSync(rootfs)) {
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    mkdirSync(rootfs, { mode: 0o755 });
    chmodSync(rootfs, 0o755); // the umask must not decide
    await writeBusyboxRootfs(rootfs, DEFAULT_BUSYBOX, busybox);
  }
  const inst: DriverInstance = {
    id: created.length + 1,
    project,
    name,
    type: 'container',
    architecture: 'x86_64',
    expandedConfig: config,
    expandedDevices: { root: { type: 'disk', path: '/', pool: 'default' }, ...devices },
    localConfig: config,
    paths: { dir, rootfs },
  };
  created.push(inst);
  return inst;
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function collect(
  proc: ExecProcess,
): Promise<{ stdout: string; stderr: string; code: number }> {
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  proc.stdin.end();
  const code = await proc.wait();
  return { stdout, stderr, code };
}

async function execOut(inst: DriverInstance, request: ExecRequest) {
  return collect(await driver.exec(inst, request));
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  timings[label] = Math.round((performance.now() - started) * 10) / 10;
  return result;
}

describe.runIf(support.available)('LXC driver on real containers', () => {
  let c1: DriverInstance;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-lxc-'));
    // The container's mapped root must traverse the data dir to its rootfs.
    chmodSync(dataDir, 0o711);
    driver = new LxcDriver({
      dataDir,
      async ensureNetwork(name) {
        expect(name).toBe('testnet');
        if (!bridgeMade) {
          execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
          bridgeMade = true;
          execFileSync('ip', ['link', 'set', bridge, 'up']);
        }
        return { bridge };
      },
      onInstanceEvent: (event) => events.push(event),
    });
  });

  afterAll(async () => {
    for (const inst of created) {
      await driver.delete(inst).catch(() => {});
    }
    driver?.close();
    if (bridgeMade) execFileSync('ip', ['link', 'del', bridge]);
    if (dataDir) {
      rmSync(dataDir, { recursive: true, force: true });
      // LXC's lock directory for this test's own lxcpath.
      rmSync(path.join('/run/lxc/lock', dataDir), { recursive: true, force: true });
    }
    console.info('LXC driver timings (ms):', timings);
  });

  it('creates an unprivileged container: the rootfs is shifted once', async () => {
    c1 = await instance('c1', {
      'environment.BERTH_TEST': 'hello world',
      'limits.memory': '256MiB',
      'limits.processes': '500',
    });
    await timed('create', () => driver.create(c1, {}));
    expect(statSync(path.join(c1.paths.rootfs, 'bin/busybox')).uid).toBe(1000000);
    expect(lstatSync(path.join(c1.paths.rootfs, 'bin/sh')).uid).toBe(1000000);
    expect(statSync(path.join(c1.paths.rootfs, 'etc/shadow')).mode & 0o777).toBe(0o600);
    // Idempotent: a second create does not shift again.
    await driver.create(c1, {});
    expect(statSync(path.join(c1.paths.rootfs, 'bin/busybox')).uid).toBe(1000000);
    const config = readFileSync(
      path.join(driver.layout.lxcPath, `${project}_c1`, 'config'),
      'utf8',
    );
    expect(config).toContain('lxc.idmap = u 0 1000000 65536');
  });

  it('starts it, reports Running and the start-host hook', async () => {
    await timed('start', () => driver.start(c1));
    expect(await driver.status(c1)).toBe('Running');
    await waitFor(
      () => events.some((e) => e.name === 'c1' && e.type === 'started'),
      3000,
      'started event',
    );
    await timed('status', () => driver.status(c1));
  });

  it('execs a command: stdout, stderr and exit code', async () => {
    const hi = await timed('exec echo', () => execOut(c1, { command: ['echo', 'hi'] }));
    expect(hi).toEqual({ stdout: 'hi\n', stderr: '', code: 0 });
    const fail = await execOut(c1, { command: ['sh', '-c', 'echo oops >&2; exit 3'] });
    expect(fail).toMatchObject({ stderr: 'oops\n', code: 3 });
    const piped = await driver.exec(c1, { command: ['cat'] });
    let out = '';
    piped.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    piped.stdin.end('through stdin\n');
    expect(await piped.wait()).toBe(0);
    expect(out).toBe('through stdin\n');
    // A background child holding stdout does not hold wait().
    const bg = await execOut(c1, { command: ['sh', '-c', 'sleep 300 & echo $!'] });
    expect(bg).toMatchObject({ code: 0 });
    const sleeper = bg.stdout.trim();
    // The exec has ended while its background child, still holding stdout, runs on.
    expect(await execOut(c1, { command: ['kill', '-0', sleeper] })).toMatchObject({ code: 0 });
    await execOut(c1, { command: ['kill', '-9', sleeper] });
  });

  it('execs with environment, cwd and user; keeps the engine environment out', async () => {
    const result = await execOut(c1, {
      command: [
        'sh',
        '-c',
        'echo "$FOO|$BERTH_TEST|${SECRET_ENGINE_VAR:-none}"; pwd; id -u; id -g',
      ],
      environment: { FOO: 'bar baz' },
      cwd: '/tmp',
      user: 1000,
      group: 1001,
    });
    expect(result.stdout).toBe('bar baz|hello world|none\n/tmp\n1000\n1001\n');
    expect(result.code).toBe(0);
  });

  it('signals a running command', async () => {
    const proc = await driver.exec(c1, { command: ['sleep', '30'] });
    await new Promise((resolve) => setTimeout(resolve, 100));
    proc.signal('SIGKILL');
    // 137: killed by the signal, not ended by sleep's 30 s.
    expect(await proc.wait()).toBe(137);
  });

  it('runs an interactive shell on a pty', async () => {
    const proc = await driver.exec(c1, {
      command: ['/bin/sh'],
      interactive: { cols: 80, rows: 24 },
    });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer | string) => (out += chunk.toString()));
    proc.resize(120, 40);
    proc.stdin.write('stty size; tty\n');
    proc.stdin.write('echo $((6*7))\n');
    await waitFor(() => /\n42\r*\n/.test(out), 5000, '42 on the pty');
    expect(out).toContain('40 120');
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    proc.stdin.write('exit 5\n');
    expect(await proc.wait()).toBe(5);
  });

  it('freezes and unfreezes fast, and status shows Frozen', async () => {
    await timed('freeze', () => driver.freeze(c1));
    expect(await driver.status(c1)).toBe('Frozen');
    expect((await driver.renderState(c1)).status).toBe('Frozen');
    await timed('unfreeze', () => driver.unfreeze(c1));
    expect(await driver.status(c1)).toBe('Running');
  });

  it('renders state from cgroups and the network namespace', async () => {
    const state = await timed('renderState', () => driver.renderState(c1));
    expect(state.status).toBe('Running');
    expect(state.status_code).toBe(103);
    expect(state.pid).toBeGreaterThan(0);
    expect(state.processes).toBeGreaterThan(0);
    expect(state.cpu.usage).toBeGreaterThan(0);
    expect(state.memory.usage).toBeGreaterThan(0);
    expect(state.network?.lo?.addresses).toContainEqual({
      family: 'inet',
      address: '127.0.0.1',
      netmask: '8',
      scope: 'local',
    });
    const cgroups = execFileSync('cat', [`/proc/${state.pid}/cgroup`], { encoding: 'utf8' });
    expect(cgroups).toContain(`${driver.layout.cgroupPayloadParent}/${project}_c1`);
  });

  it('applies limits at start and live updates while running', async () => {
    const inside = async () =>
      (
        await execOut(c1, {
          command: [
            'cat',
            '/sys/fs/cgroup/memory/memory.limit_in_bytes',
            '/sys/fs/cgroup/pids/pids.max',
          ],
        })
      ).stdout;
    expect(await inside()).toBe(`${256 * 2 ** 20}\n500\n`);
    const previous = { ...c1, expandedConfig: { ...c1.expandedConfig } };
    c1.expandedConfig = {
      ...c1.expandedConfig,
      'limits.memory': '128MiB',
      'limits.processes': '300',
    };
    await driver.update(c1, previous);
    expect(await inside()).toBe(`${128 * 2 ** 20}\n300\n`);
  });

  it('applies environment.*, bind-mount disks, limits.cpu, security.nesting and raw.lxc last', async () => {
    // environment.* reaches init (lxc.environment).
    const environ = await execOut(c1, {
      command: ['sh', '-c', 'tr "\\0" "\\n" < /proc/1/environ'],
    });
    expect(environ.stdout).toContain('BERTH_TEST=hello world');

    const shared = path.join(dataDir, 'shared');
    mkdirSync(shared, { recursive: true });
    writeFileSync(path.join(shared, 'from-host.txt'), 'bound\n');
    const c4 = await instance(
      'c4',
      {
        'limits.cpu': '1',
        'security.nesting': 'true',
        'limits.processes': '500',
        // raw.lxc comes last, so it overrides what the engine set from limits.processes.
        'raw.lxc': 'lxc.cgroup.pids.max = 42',
      },
      { data: { type: 'disk', source: shared, path: '/mnt/data', readonly: 'true' } },
    );
    await driver.create(c4, {});
    await driver.start(c4);
    expect((await execOut(c4, { command: ['cat', '/mnt/data/from-host.txt'] })).stdout).toBe(
      'bound\n',
    );
    const write = await execOut(c4, { command: ['touch', '/mnt/data/nope'] });
    expect(write.code).not.toBe(0);
    expect(existsSync(path.join(shared, 'nope'))).toBe(false);
    expect((await execOut(c4, { command: ['cat', '/sys/fs/cgroup/pids/pids.max'] })).stdout).toBe(
      '42\n',
    );
    const cpus = (
      await execOut(c4, { command: ['cat', '/sys/fs/cgroup/cpuset/cpuset.cpus'] })
    ).stdout.trim();
    expect(cpus).toMatch(/^\d+$/);
    // Nesting: the host's /proc is mounted where a nested LXC looks for it.
    const mounts = (await execOut(c4, { command: ['cat', '/proc/self/mountinfo'] })).stdout;
    expect(mounts).toContain(' /dev/.lxc/proc ');
    await driver.stop(c4);
  });

  it('honours raw.idmap: a container id mapped to a chosen host id', async () => {
    // 1500000 is delegated to root by the set-up's /etc/subuid range but lies
    // outside the container's default map (1000000-1065535).
    const c5 = await instance('c5', { 'raw.idmap': 'both 1500000 1000' });
    await driver.create(c5, {});
    await driver.start(c5);
    const made = await execOut(c5, {
      command: [
        'sh',
        '-c',
        'echo x > /root/mapped && chown 1000:1000 /root/mapped && stat -c %u:%g /root/mapped',
      ],
    });
    expect(made.stdout).toBe('1000:1000\n');
    const onHost = statSync(path.join(c5.paths.rootfs, 'root/mapped'));
    expect([onHost.uid, onHost.gid]).toEqual([1500000, 1500000]);
    // Root stays in the default map.
    expect(statSync(path.join(c5.paths.rootfs, 'bin/busybox')).uid).toBe(1000000);
    await driver.stop(c5);
  });

  it('pushes and pulls files with ids shifted through the map', async () => {
    await driver.filePush(c1, '/root/hello.txt', { content: Buffer.from('hello\n'), mode: 0o640 });
    const onHost = statSync(path.join(c1.paths.rootfs, 'root/hello.txt'));
    expect([onHost.uid, onHost.gid, onHost.mode & 0o7777]).toEqual([1000000, 1000000, 0o640]);
    await driver.filePush(c1, '/home/user/deep/file', {
      content: Buffer.from('x'),
      uid: 1000,
      gid: 1000,
      mode: 0o4755,
      createParents: true,
    });
    const deep = statSync(path.join(c1.paths.rootfs, 'home/user/deep/file'));
    expect([deep.uid, deep.gid, deep.mode & 0o7777]).toEqual([1001000, 1001000, 0o4755]);
    expect(statSync(path.join(c1.paths.rootfs, 'home/user')).uid).toBe(1000000);

    // The running container sees it as its own.
    const seen = await execOut(c1, {
      command: ['sh', '-c', 'cat /root/hello.txt; stat -c "%u %g %a" /home/user/deep/file'],
    });
    expect(seen.stdout).toBe('hello\n1000 1000 4755\n');

    const pulled = await driver.filePull(c1, '/root/hello.txt');
    expect(pulled.content?.toString()).toBe('hello\n');
    expect(pulled.entry).toMatchObject({
      name: 'hello.txt',
      type: 'file',
      uid: 0,
      gid: 0,
      mode: 0o640,
      size: 6,
    });
    const dir = await driver.filePull(c1, '/etc');
    expect(dir.entry.type).toBe('directory');
    expect(dir.entries).toContain('passwd');
    const link = await driver.filePull(c1, '/bin/sh');
    expect(link.entry).toMatchObject({ type: 'symlink', target: '/bin/busybox' });

    // Written inside, read from the host side.
    await execOut(c1, { command: ['sh', '-c', 'echo made-inside > /tmp/inside'] });
    expect((await driver.filePull(c1, '/tmp/inside')).content?.toString()).toBe('made-inside\n');

    await driver.fileRemove(c1, '/root/hello.txt');
    expect(existsSync(path.join(c1.paths.rootfs, 'root/hello.txt'))).toBe(false);
  });

  it('never lets a path or symlink escape the rootfs', async () => {
    const hostDir = path.join(dataDir, 'outside');
    mkdirSync(hostDir);
    writeFileSync(path.join(hostDir, 'victim'), 'host data');
    const tag = `berth-escape-${run}`;
    // Symlinks made by the (running, unprivileged) container itself.
    const made = await execOut(c1, {
      command: [
        'sh',
        '-c',
        `ln -s / /tmp/toroot && ln -s ../../.. /tmp/up && ln -s ${hostDir} /tmp/hostdir && mkdir -p /tmp/d && ln -s ../../../../../../../.. /tmp/d/up2`,
      ],
    });
    expect(made.code).toBe(0);

    // `..` past the root stays at the root: this is the container's passwd.
    const passwd = await driver.filePull(c1, '../../../../etc/passwd');
    expect(passwd.content?.toString()).toBe(
      readFileSync(path.join(c1.paths.rootfs, 'etc/passwd'), 'utf8'),
    );
    expect((await driver.filePull(c1, '/tmp/up/../etc/passwd')).content?.toString()).toBe(
      passwd.content?.toString(),
    );

    for (const hostile of [
      `/tmp/toroot/etc/${tag}`,
      `/tmp/up/etc/${tag}`,
      `/tmp/d/up2/etc/${tag}`,
      `../../etc/${tag}`,
    ]) {
      await driver.filePush(c1, hostile, { content: Buffer.from('pwned') });
      expect(existsSync(`/etc/${tag}`)).toBe(false);
      expect(readFileSync(path.join(c1.paths.rootfs, 'etc', tag), 'utf8')).toBe('pwned');
      await driver.fileRemove(c1, `/etc/${tag}`);
    }

    // A symlinked parent pointing at a real host directory resolves inside the rootfs.
    await expect(driver.filePull(c1, '/tmp/hostdir/victim')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      driver.filePush(c1, '/tmp/hostdir/new', { content: Buffer.from('x') }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await driver.filePush(c1, '/tmp/hostdir/new', {
      content: Buffer.from('x'),
      createParents: true,
    });
    expect(existsSync(path.join(hostDir, 'new'))).toBe(false);
    expect(existsSync(path.join(c1.paths.rootfs, hostDir, 'new'))).toBe(true);
    await expect(driver.fileRemove(c1, `/tmp/hostdir/victim`)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(driver.fileRemove(c1, `../../../..${hostDir}/victim`)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(readFileSync(path.join(hostDir, 'victim'), 'utf8')).toBe('host data');

    // A symlink as the last component of a push is followed inside; of a pull, returned.
    await driver.filePush(c1, '/tmp/toroot', { content: Buffer.from('x') }).then(
      () => expect.unreachable('pushing onto / must fail'),
      (error: { code: string }) => expect(error.code).toBe('INVALID_ARGUMENT'),
    );
    expect((await driver.filePull(c1, '/tmp/toroot')).entry).toMatchObject({
      type: 'symlink',
      target: '/',
    });

    // FIFOs and device nodes are never opened.
    await execOut(c1, { command: ['mkfifo', '/tmp/fifo'] });
    await expect(driver.filePull(c1, '/tmp/fifo')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(
      driver.filePush(c1, '/tmp/fifo', { content: Buffer.from('x') }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('never writes through a hard link to a host file, refuses NUL, and holds against a symlink swapped in mid-push', async () => {
    const hostDir = path.join(dataDir, 'outside-hl');
    mkdirSync(hostDir);
    const victim = path.join(hostDir, 'victim');
    writeFileSync(victim, 'host data');
    // A hard link to a host file inside the rootfs (what a hostile image would
    // need; the container itself cannot name host files to link).
    linkSync(victim, path.join(c1.paths.rootfs, 'tmp/hl'));
    await driver.filePush(c1, '/tmp/hl', { content: Buffer.from('pushed') });
    expect(readFileSync(victim, 'utf8')).toBe('host data');
    expect(readFileSync(path.join(c1.paths.rootfs, 'tmp/hl'), 'utf8')).toBe('pushed');
    await driver.fileRemove(c1, '/tmp/hl');
    expect(readFileSync(victim, 'utf8')).toBe('host data');

    // A NUL byte never becomes a shorter path.
    for (const hostile of ['/etc/passwd\0.txt', '/tmp/\0']) {
      await expect(driver.filePull(c1, hostile)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await expect(
        driver.filePush(c1, hostile, { content: Buffer.from('x') }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }

    // The container swaps /tmp/race between a folder and a symlink to / as fast
    // as it can while files are pushed through it: each lands inside the
    // container (in the folder, or in its own /etc), never on the host.
    const tag = `berth-race-${run}`;
    const loop = await execOut(c1, {
      command: [
        'sh',
        '-c',
        'mkdir -p /tmp/race /etc; (while :; do mv /tmp/race /tmp/race.d; ln -s / /tmp/race; rm /tmp/race; mv /tmp/race.d /tmp/race; done) >/dev/null 2>&1 & echo $!',
      ],
    });
    expect(loop.code).toBe(0);
    const swapper = loop.stdout.trim();
    try {
      for (let i = 0; i < 100; i++) {
        await driver
          .filePush(c1, `/tmp/race/etc/${tag}`, { content: Buffer.from('x'), createParents: true })
          .catch((error: { code?: string }) => {
            // Losing the race is fine (the folder was moved away); escaping is not.
            expect(['NOT_FOUND', 'INVALID_ARGUMENT', 'CONFLICT', 'INTERNAL']).toContain(error.code);
          });
        expect(existsSync(`/etc/${tag}`)).toBe(false);
      }
    } finally {
      await execOut(c1, { command: ['kill', swapper] });
    }
    expect(existsSync(`/etc/${tag}`)).toBe(false);
  });

  it('lists a directory and stats its entries without reading or following them', async () => {
    const hostDir = path.join(dataDir, 'outside-list');
    mkdirSync(hostDir);
    writeFileSync(path.join(hostDir, 'victim'), 'host data');
    // Made by the (running, unprivileged) container itself.
    const made = await execOut(c1, {
      command: [
        'sh',
        '-c',
        [
          'mkdir -p /srv/list/sub',
          'printf abc > /srv/list/file',
          'chmod 640 /srv/list/file',
          'chown 1000:1000 /srv/list/sub',
          'ln -s file /srv/list/link',
          `ln -s ${hostDir} /srv/list/out`,
          'ln -s ../../../../../../.. /srv/list/up',
          'mkfifo /srv/list/fifo',
        ].join(' && '),
      ],
    });
    expect(made.code).toBe(0);

    const listed = await driver.listDirectory(c1, '/srv/list');
    expect(listed.map((e) => e.name)).toEqual(['fifo', 'file', 'link', 'out', 'sub', 'up']);
    const byName = Object.fromEntries(listed.map((e) => [e.name, e]));
    expect(byName.file).toEqual({
      name: 'file',
      type: 'file',
      mode: 0o640,
      uid: 0,
      gid: 0,
      size: 3,
    });
    expect(byName.sub).toMatchObject({ type: 'directory', uid: 1000, gid: 1000 });
    expect(byName.link).toMatchObject({ type: 'symlink', target: 'file' });
    // Listed as the link it is, never followed to the host directory.
    expect(byName.out).toMatchObject({ type: 'symlink', target: hostDir });
    expect(byName.up).toMatchObject({ type: 'symlink', target: '../../../../../../..' });
    // A FIFO is listed (never opened: that would block).
    expect(byName.fifo).toMatchObject({ type: 'other' });

    expect(await driver.stat(c1, '/srv/list/out')).toMatchObject({
      name: 'out',
      type: 'symlink',
      target: hostDir,
    });
    expect(await driver.stat(c1, '/srv/list/file')).toEqual(byName.file);
    expect(await driver.stat(c1, '/')).toMatchObject({ name: '/', type: 'directory', uid: 0 });

    // Through an escaping symlink: resolved inside the rootfs, where it does not exist, as pull.
    for (const through of ['/srv/list/out', '/srv/list/out/']) {
      // The link itself is what pull and stat give; listing follows it, inside the rootfs.
      expect((await driver.filePull(c1, through)).entry).toMatchObject({ type: 'symlink' });
      await expect(driver.listDirectory(c1, through)).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    }
    for (const through of [
      '/srv/list/out/victim',
      `/srv/list/up${hostDir}`,
      `/srv/list/up${hostDir}/victim`,
    ]) {
      await expect(driver.filePull(c1, through)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(driver.stat(c1, through)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(driver.listDirectory(c1, through)).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    }
    // `..` past the root stays at the root: the container's own `/`.
    const rootNames = (await driver.listDirectory(c1, '/srv/list/up')).map((e) => e.name);
    expect(rootNames).toEqual(readdirSync(c1.paths.rootfs).sort());
    expect(rootNames).toContain('srv');

    // Not a directory, or missing.
    await expect(driver.listDirectory(c1, '/srv/list/link')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(driver.listDirectory(c1, '/srv/list/nope')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(readFileSync(path.join(hostDir, 'victim'), 'utf8')).toBe('host data');
  });

  it('attaches to the console and keeps its log', async () => {
    const con = await driver.console(c1, { cols: 80, rows: 24 });
    let out = '';
    con.output.on('data', (chunk: Buffer | string) => (out += chunk.toString()));
    // getty may be (re)starting: poke until it prompts.
    let pokes = 0;
    await waitFor(
      () => {
        if (pokes++ % 25 === 0) con.input.write('\n');
        return /login: $/.test(out) || /# \S*$/.test(out);
      },
      5000,
      'a login prompt',
    );
    if (/login: $/.test(out)) {
      con.input.write('root\n');
      await waitFor(() => /# \S*$/.test(out), 5000, 'a shell prompt');
    }
    con.input.write('echo con$((1+1))sole\n');
    await waitFor(() => out.includes('con2sole'), 5000, 'console output');
    await expect(driver.console(c1, { cols: 80, rows: 24 })).rejects.toMatchObject({
      code: 'BUSY',
    });
    con.input.write('exit\n');
    con.close();
    await waitFor(
      async () => (await driver.consoleLog(c1)).includes('con2sole'),
      3000,
      'console log',
    );
  });

  it('notices a poweroff from inside through the hooks', async () => {
    const before = events.length;
    await execOut(c1, { command: ['poweroff'] });
    await waitFor(
      () =>
        events
          .slice(before)
          .some((e) => e.name === 'c1' && e.type === 'stopped' && e.target === 'stop'),
      10_000,
      'stopped event',
    );
    expect(events.slice(before).map((e) => e.type)).toEqual(['stopping', 'stopped']);
    await waitFor(async () => (await driver.status(c1)) === 'Stopped', 3000, 'Stopped');
  });

  it('shuts down gracefully and stops by force', async () => {
    await driver.start(c1);
    await timed('shutdown (graceful)', () => driver.shutdown(c1, 10_000));
    expect(await driver.status(c1)).toBe('Stopped');
    await driver.start(c1);
    await timed('stop (force)', () => driver.stop(c1));
    expect(await driver.status(c1)).toBe('Stopped');
    expect(driver.leftoverCgroups(driver.paths(c1))).toEqual([]);
    // Stopping a stopped container is not an error.
    await driver.stop(c1);
  });

  it('runs a privileged container without a map, with a NIC on a bridge', async () => {
    const p1 = await instance(
      'p1',
      {
        'security.privileged': 'true',
        'volatile.eth0.hwaddr': '02:16:3e:12:34:56',
        'limits.cpu': '1',
      },
      { eth0: { type: 'nic', network: 'testnet' } },
    );
    await driver.create(p1, {});
    expect(statSync(path.join(p1.paths.rootfs, 'bin/busybox')).uid).toBe(0);
    await driver.start(p1);
    const map = await execOut(p1, {
      command: ['cat', '/proc/self/uid_map', '/sys/class/net/eth0/address'],
    });
    expect(map.stdout.replace(/\s+/g, ' ').trim()).toBe('0 0 4294967295 02:16:3e:12:34:56');
    const state = await driver.renderState(p1);
    expect(state.network?.eth0).toMatchObject({
      hwaddr: '02:16:3e:12:34:56',
      state: 'up',
      type: 'broadcast',
    });
    const hostName = state.network?.eth0?.host_name ?? '';
    expect(hostName).toMatch(/^vb[0-9a-f]{11}$/);
    expect(execFileSync('ip', ['-o', 'link', 'show', hostName], { encoding: 'utf8' })).toContain(
      `master ${bridge}`,
    );
    await driver.stop(p1);
    await driver.delete(p1);
  });

  it('shifts back when the map changes (privileged → unprivileged)', async () => {
    const p2 = await instance('p2', { 'security.privileged': 'true' });
    await driver.create(p2, {});
    expect(statSync(path.join(p2.paths.rootfs, 'bin/busybox')).uid).toBe(0);
    p2.expandedConfig = { 'raw.idmap': 'both 2000000 2000' };
    await driver.start(p2);
    expect(statSync(path.join(p2.paths.rootfs, 'bin/busybox')).uid).toBe(1000000);
    const who = await execOut(p2, {
      command: ['sh', '-c', 'cat /proc/self/uid_map | tr -s " " | sed "s/^ //"'],
    });
    expect(who.stdout).toContain('2000 2000000 1');
    await driver.stop(p2);
    p2.expandedConfig = { 'raw.idmap': 'both 0 2000' };
    await expect(driver.start(p2)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('renames a stopped container, and refuses a running one', async () => {
    const r1 = await instance('r1');
    await driver.create(r1, {});
    await driver.start(r1);
    await expect(driver.rename(r1, 'r2')).rejects.toMatchObject({ code: 'CONFLICT' });
    await driver.stop(r1);
    const before = driver.paths(r1);
    await driver.rename(r1, 'r2');
    const r2: DriverInstance = { ...r1, name: 'r2' };
    created.push(r2);
    const after = driver.paths(r2);
    expect(existsSync(before.dir)).toBe(false);
    expect(existsSync(after.dir)).toBe(true);
    expect(existsSync(after.logDir)).toBe(true);
    await driver.start(r2);
    expect(await driver.status(r2)).toBe('Running');
    expect(readFileSync(after.config, 'utf8')).toContain('lxc.uts.name = r2\n');
    await driver.delete(r2);
    expect(existsSync(after.dir)).toBe(false);
  });

  it('deletes a container without leaving files or cgroups', async () => {
    await driver.start(c1);
    const paths = driver.paths(c1);
    await driver.delete(c1);
    expect(existsSync(paths.dir)).toBe(false);
    expect(existsSync(paths.logDir)).toBe(false);
    expect(existsSync(path.join('/run/lxc/lock', driver.layout.lxcPath, `.${paths.name}`))).toBe(
      false,
    );
    expect(driver.leftoverCgroups(paths)).toEqual([]);
    // The storage layer owns the rootfs: delete leaves it alone.
    expect(existsSync(path.join(c1.paths.rootfs, 'bin/busybox'))).toBe(true);
  });
});
