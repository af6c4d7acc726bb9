// Subject 1, the floor: plain LXC tools on a hand-built busybox container in
// a throwaway lxcpath. Nothing can do an operation faster than the LXC
// command behind it, so this column says how much of LXD's (and Berth's) time
// is their own overhead.
//
// The containers are set up the way LXD and Berth run theirs by default:
// unprivileged (id-mapped, rootfs shifted ahead of time) with a veth on a
// bridge, so the floor pays for the same namespaces and network plumbing.
// The bridge has no address and no DHCP server: the guests' udhcpc asks and
// nobody answers, which keeps them quiet and costs nothing measurable.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveCommand, runHost } from './host-command.ts';
import { NotAvailable, type Subject, type SubjectPath } from './subject.ts';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

/** Columns that make `lxc-ls -f` read roughly what LXD's recursion=2 returns (state, memory, addresses). */
const FULL_COLUMNS = 'NAME,STATE,PID,RAM,SWAP,AUTOSTART,GROUPS,INTERFACE,IPV4,IPV6,UNPRIVILEGED';

/** Root's first subordinate id range, as LXC and LXD would use it. */
async function rootIdRange(file: string): Promise<{ start: number; count: number } | null> {
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [user, start, count] = line.trim().split(':');
    if (user === 'root' && start && count && Number(count) >= 65536)
      return { start: Number(start), count: 65536 };
  }
  return null;
}

export class RawLxcSubject implements Subject {
  readonly id = 'raw' as const;
  readonly label = 'raw LXC';
  readonly paths: { api: SubjectPath };

  #work: string | null = null;
  #bridge: string | null = null;
  #idmap: { uid: { start: number; count: number }; gid: { start: number; count: number } } | null =
    null;
  readonly #created = new Set<string>();

  constructor() {
    this.paths = { api: this.#toolsPath() };
  }

  get #lxcpath(): string {
    if (!this.#work) throw new Error('raw LXC: not prepared');
    return path.join(this.#work, 'lxc');
  }

  get #template(): string {
    return path.join(this.#work!, 'template-rootfs');
  }

  async prepare(): Promise<void> {
    if (process.getuid?.() !== 0) throw new NotAvailable('needs root');
    for (const tool of [
      'lxc-start',
      'lxc-attach',
      'lxc-stop',
      'lxc-info',
      'lxc-ls',
      'ip',
      'busybox',
    ]) {
      if (!(await haveCommand(tool)))
        throw new NotAvailable(`${tool} is not installed (apt-get install -y lxc busybox-static)`);
    }
    const uid = await rootIdRange('/etc/subuid');
    const gid = await rootIdRange('/etc/subgid');
    if (!uid || !gid)
      throw new NotAvailable(
        'no subordinate id range for root in /etc/subuid and /etc/subgid (see docs/notes/lxc-host.md §3)',
      );
    this.#idmap = { uid, gid };

    // Same filesystem as LXD's /var/lib/lxd here, so copies cost the same.
    this.#work = await mkdtemp(path.join(os.tmpdir(), 'bench-lxc-'));
    await mkdir(this.#lxcpath, { mode: 0o711 });
    await chmod(this.#work, 0o711);

    // Built once and shifted once; each launch copies it (cp -a keeps the
    // shifted owners), which stands in for "unpack the image".
    await runHost(path.join(BENCH_DIR, 'busybox-rootfs.sh'), [this.#template, 'busybox']);
    // Everything in the tree is root-owned, so a constant chown is the shift.
    // (chown clears setuid bits; the busybox tree has none.)
    await runHost('chown', ['-R', '-h', `${uid.start}:${gid.start}`, this.#template]);

    this.#bridge = `bnch${randomBytes(4).toString('hex')}`;
    await runHost('ip', ['link', 'add', this.#bridge, 'type', 'bridge']);
    await runHost('ip', ['link', 'set', this.#bridge, 'up']);
  }

  #config(name: string, rootfs: string): string {
    const dir = path.join(this.#lxcpath, name);
    const { uid, gid } = this.#idmap!;
    const mac = `00:16:3e:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
    // From docs/notes/lxc-host.md §2, minus limits and hooks (LXD's default
    // profile sets no limits either).
    return [
      `lxc.uts.name = ${name}`,
      `lxc.rootfs.path = dir:${rootfs}`,
      'lxc.init.cmd = /sbin/init',
      'lxc.signal.halt = SIGUSR2',
      'lxc.signal.reboot = SIGTERM',
      'lxc.autodev = 1',
      'lxc.tty.max = 1',
      'lxc.pty.max = 64',
      'lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed:force',
      'lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0',
      'lxc.cap.drop = sys_module mac_admin mac_override sys_time sys_rawio',
      `lxc.console.logfile = ${dir}/console.log`,
      `lxc.log.file = ${dir}/lxc.log`,
      'lxc.log.level = warn',
      'lxc.net.0.type = veth',
      `lxc.net.0.link = ${this.#bridge}`,
      'lxc.net.0.name = eth0',
      'lxc.net.0.flags = up',
      `lxc.net.0.hwaddr = ${mac}`,
      `lxc.idmap = u 0 ${uid.start} ${uid.count}`,
      `lxc.idmap = g 0 ${gid.start} ${gid.count}`,
      '',
    ].join('\n');
  }

  async #define(name: string, rootfs: string): Promise<void> {
    const dir = path.join(this.#lxcpath, name);
    this.#created.add(name);
    await mkdir(dir, { mode: 0o711 });
    await writeFile(path.join(dir, 'config'), this.#config(name, rootfs));
  }

  async #lxc(tool: string, name: string, ...args: string[]): Promise<void> {
    try {
      await runHost(tool, ['-n', name, '-P', this.#lxcpath, ...args]);
    } catch (error) {
      // With lxc.log.file set, LXC writes its errors there, not to stderr.
      const log = await readFile(path.join(this.#lxcpath, name, 'lxc.log'), 'utf8').catch(() => '');
      const tail = log.trim().split('\n').slice(-3).join(' | ');
      throw tail ? new Error(`${(error as Error).message} [lxc.log: ${tail}]`) : error;
    }
  }

  #toolsPath(): SubjectPath {
    return {
      method:
        'unprivileged, veth on a scratch bridge; each step one command spawned from Node (≈ 2–3 ms of each number). ' +
        'launch = `cp -a` of a prepared, id-shifted rootfs + config + `lxc-start -d`; start `lxc-start -d`; stop `lxc-stop -k`; ' +
        'exec `lxc-attach --clear-env -- true`; snapshot `cp -a` of the rootfs; delete `rm -rf` of the container; ' +
        'list `lxc-ls -1` / `lxc-ls -f` / `lxc-ls -f -F <all columns>`',
      launch: async (name) => {
        const rootfs = path.join(this.#lxcpath, name, 'rootfs');
        await this.#define(name, rootfs);
        await runHost('cp', ['-a', this.#template, rootfs]);
        // `lxc-start -d` returns only once the container is RUNNING.
        await this.#lxc('lxc-start', name, '-d');
      },
      start: (name) => this.#lxc('lxc-start', name, '-d'),
      stopForce: (name) => this.#lxc('lxc-stop', name, '-k'),
      // --clear-env: LXC otherwise passes the caller's whole environment in.
      exec: (name) => this.#lxc('lxc-attach', name, '--clear-env', '--', 'true'),
      snapshot: async (name, snapshot) => {
        // A snapshot on a dir backend is a copy of the tree, so the floor is
        // `cp -a`. (lxc-snapshot would do the same copy, but refuses a running
        // dir-backed container, and LXD and Berth snapshot running ones.)
        const snaps = path.join(this.#lxcpath, name, 'snaps');
        await mkdir(snaps, { recursive: true });
        await runHost('cp', [
          '-a',
          path.join(this.#lxcpath, name, 'rootfs'),
          path.join(snaps, snapshot),
        ]);
      },
      delete: async (name) => {
        // Config, rootfs and snapshots are all under the container's directory.
        await runHost('rm', ['-rf', path.join(this.#lxcpath, name)]);
        this.#created.delete(name);
      },
      lists: {
        'list-0': () => this.#list(['-1']),
        'list-1': () => this.#list(['-f']),
        'list-2': () => this.#list(['-f', '-F', FULL_COLUMNS]),
      },
    };
  }

  async #list(args: string[]): Promise<number> {
    const { stdout } = await runHost('lxc-ls', ['-P', this.#lxcpath, ...args], {
      needStdout: true,
    });
    const lines = stdout.split('\n').filter((line) => line.trim() !== '');
    // -f prints a header line first; -1 prints names only.
    return args.includes('-f') ? Math.max(0, lines.length - 1) : lines.length;
  }

  async status(name: string): Promise<string> {
    return (
      await runHost('lxc-info', ['-n', name, '-P', this.#lxcpath, '-sH'], { needStdout: true })
    ).stdout.trim();
  }

  async createStopped(name: string): Promise<void> {
    // Never started, so they can all share the template as their rootfs:
    // listing reads configs and state, never the tree.
    await this.#define(name, this.#template);
  }

  async remove(name: string): Promise<void> {
    await runHost('lxc-stop', ['-n', name, '-P', this.#lxcpath, '-k'], { allowFailure: true });
    // Never lxc-destroy: it deletes lxc.rootfs.path wherever it points
    // (docs/notes/lxc-host.md §3), which for the listing set is the template.
    await rm(path.join(this.#lxcpath, name), { recursive: true, force: true });
    this.#created.delete(name);
  }

  async cleanup(): Promise<string[]> {
    const warnings: string[] = [];
    if (this.#work) {
      for (const name of [...this.#created]) {
        await this.remove(name).catch((error: unknown) =>
          warnings.push(`${name}: ${String(error)}`),
        );
      }
      // LXC keeps per-lxcpath lock files under /run/lxc/lock/<lxcpath>; ours
      // start at the temp dir (which is all ours).
      await rm(path.join('/run/lxc/lock', this.#work), { recursive: true, force: true }).catch(
        () => undefined,
      );
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
    return warnings;
  }
}
