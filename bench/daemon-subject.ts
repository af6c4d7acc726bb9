// A daemon that speaks LXD's REST API on `<dir>/unix.socket` (the real LXD,
// or Berth's server), timed through two paths that are the same for every
// daemon:
//
//   api  the bench's own HTTP client (lxd-client.ts: keep-alive agent), the
//        same requests byte for byte, every async call followed by
//        GET /1.0/operations/<id>/wait, as `lxc` without --no-wait does
//   cli  the `lxc` client, with LXD_DIR set to the daemon's directory
//
// Everything runs in a throwaway project, named the same on every daemon, so
// listing sees exactly the bench's instances and nothing an admin owns is
// touched or counted. The project has its own images (the bench imports its
// busybox tarball into it; Berth does not read a project's images from
// `default` when features.images=false) and borrows `default`'s profiles.
import { IMAGE_ALIAS, type BenchImage } from './bench-image.ts';
import { LxcCli } from './lxc-cli.ts';
import { LxdClient, LxdError } from './lxd-client.ts';
import { runPool } from './pool.ts';
import type { PathId, Subject, SubjectId, SubjectPath } from './subject.ts';

/** The daemon's own life: whatever starts it (or finds it running) and stops it. */
export interface Daemon {
  /** Makes sure the daemon answers and returns its directory (LXD_DIR). Throws NotAvailable when it cannot. */
  start(): Promise<string>;
  /** Stops what start() started (nothing for a daemon that was already running); returns warnings. */
  stop(): Promise<string[]>;
  /** Extra words for the method line (how the daemon runs). */
  readonly description: string;
}

export interface DaemonSubjectOptions {
  id: Extract<SubjectId, 'lxd' | 'berth'>;
  label: string;
  daemon: Daemon;
  /** The throwaway project's name: the same on every daemon, so requests are identical. */
  project: string;
  image: BenchImage;
}

export class DaemonSubject implements Subject {
  readonly id: DaemonSubjectOptions['id'];
  readonly label: string;
  readonly paths: Record<PathId, SubjectPath>;

  readonly #options: DaemonSubjectOptions;
  #client: LxdClient | null = null;
  #cli: LxcCli | null = null;
  #projectCreated = false;
  readonly #images = new Set<string>();
  readonly #created = new Set<string>();
  #started = false;

  constructor(options: DaemonSubjectOptions) {
    this.#options = options;
    this.id = options.id;
    this.label = options.label;
    this.paths = { api: this.#apiPath(), cli: this.#cliPath() };
  }

  get #c(): LxdClient {
    if (!this.#client) throw new Error(`${this.label}: not prepared`);
    return this.#client;
  }

  get #lxc(): LxcCli {
    if (!this.#cli) throw new Error(`${this.label}: not prepared`);
    return this.#cli;
  }

  async prepare(): Promise<void> {
    this.#started = true;
    const dir = await this.#options.daemon.start();
    const { project } = this.#options;
    this.#client = new LxdClient(`${dir}/unix.socket`);
    this.#cli = new LxcCli(dir, project);
    await this.#cli.prepare();
    await this.#client.request('POST', '/1.0/projects', {
      name: project,
      description: 'Berth bench (temporary)',
      config: {
        'features.images': 'true',
        'features.profiles': 'false',
        'features.storage.volumes': 'false',
      },
    });
    this.#projectCreated = true;
    this.#client.project = project;
    await this.#cli.run(
      ['image', 'import'],
      [await this.#options.image.tarball(), '--alias', IMAGE_ALIAS],
    );
    const alias = await this.#client.request<{ target: string }>(
      'GET',
      `/1.0/images/aliases/${IMAGE_ALIAS}`,
    );
    this.#images.add(alias.metadata.target);
  }

  // ------------------------------------------------------------- api

  #create(name: string) {
    this.#created.add(name);
    return this.#c.run('POST', '/1.0/instances', {
      name,
      type: 'container',
      source: { type: 'image', alias: IMAGE_ALIAS },
    });
  }

  #state(name: string, action: 'start' | 'stop', force = false) {
    return this.#c.run('PUT', `/1.0/instances/${name}/state`, { action, force, timeout: 30 });
  }

  async #list(recursion: 0 | 1 | 2): Promise<number> {
    const res = await this.#c.request<unknown[]>('GET', '/1.0/instances', undefined, {
      recursion: String(recursion),
    });
    return res.metadata.length;
  }

  #apiPath(): SubjectPath {
    return {
      method:
        'the bench HTTP client on the unix socket (keep-alive), every async call followed by /1.0/operations/<id>/wait. ' +
        'launch = POST /1.0/instances + PUT state start; stop = PUT state {stop, force}; ' +
        'exec = POST exec {record-output} until the exit code; snapshot = POST snapshots; delete = DELETE of a stopped instance; ' +
        'list = GET /1.0/instances?recursion=0/1/2',
      launch: async (name) => {
        // Two operations, as `lxc launch` does: create, then start.
        await this.#create(name);
        await this.#state(name, 'start');
      },
      start: async (name) => void (await this.#state(name, 'start')),
      stopForce: async (name) => void (await this.#state(name, 'stop', true)),
      exec: async (name) => {
        // record-output without websockets: the daemon runs the command to
        // completion and the operation carries the exit code.
        const op = await this.#c.run('POST', `/1.0/instances/${name}/exec`, {
          command: ['true'],
          environment: {},
          'wait-for-websocket': false,
          interactive: false,
          'record-output': true,
        });
        const code = op.metadata?.['return'];
        if (code !== 0) throw new Error(`exec true in ${name}: exit code ${String(code)}`);
      },
      snapshot: async (name, snapshot) =>
        void (await this.#c.run('POST', `/1.0/instances/${name}/snapshots`, { name: snapshot })),
      delete: async (name) => {
        await this.#c.run('DELETE', `/1.0/instances/${name}`);
        this.#created.delete(name);
      },
      lists: {
        'list-0': () => this.#list(0),
        'list-1': () => this.#list(1),
        'list-2': () => this.#list(2),
      },
    };
  }

  // ------------------------------------------------------------- cli

  #cliPath(): SubjectPath {
    const lxc = (...args: string[]) => this.#lxc.run(args.slice(0, 1), args.slice(1));
    return {
      method:
        '`lxc` spawned with LXD_DIR=<daemon dir> and --project: `lxc launch IMAGE NAME`, `lxc start`, `lxc stop -f`, ' +
        '`lxc exec NAME -- true` (websockets, stdin not a terminal), `lxc snapshot`, `lxc delete -f` (of a stopped instance), ' +
        '`lxc list --format csv` (default columns)',
      launch: async (name) => {
        this.#created.add(name);
        await lxc('launch', IMAGE_ALIAS, name);
      },
      start: async (name) => void (await lxc('start', name)),
      stopForce: async (name) => void (await lxc('stop', '-f', name)),
      exec: async (name) => void (await lxc('exec', name, '--', 'true')),
      snapshot: async (name, snapshot) => void (await lxc('snapshot', name, snapshot)),
      delete: async (name) => {
        await lxc('delete', '-f', name);
        this.#created.delete(name);
      },
      lists: {
        list: async () => {
          const { stdout } = await this.#lxc.run(['list'], ['--format', 'csv'], {
            needStdout: true,
          });
          return stdout.split('\n').filter((line) => line.trim() !== '').length;
        },
      },
    };
  }

  // ------------------------------------------------------------- set-up

  async status(name: string): Promise<string> {
    return (await this.#c.request<{ status: string }>('GET', `/1.0/instances/${name}`)).metadata
      .status;
  }

  async createStopped(name: string): Promise<void> {
    await this.#create(name);
  }

  async remove(name: string): Promise<void> {
    try {
      if ((await this.status(name)) !== 'Stopped') await this.#state(name, 'stop', true);
      await this.#c.run('DELETE', `/1.0/instances/${name}`);
    } catch (error) {
      // Already gone counts as removed (a failed create may leave nothing).
      if (!(error instanceof LxdError && error.status === 404)) throw error;
    }
    this.#created.delete(name);
  }

  async cleanup(): Promise<string[]> {
    const warnings: string[] = [];
    const warn = (what: string) => (error: unknown) =>
      void warnings.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    const client = this.#client;
    if (client) {
      // A few at a time: deleting a hundred instances one by one takes long.
      await runPool([...this.#created], 4, (name) => this.remove(name).catch(warn(name)));
      for (const fingerprint of [...this.#images]) {
        await client
          .run('DELETE', `/1.0/images/${fingerprint}`)
          .then(() => this.#images.delete(fingerprint))
          .catch(warn(`image ${fingerprint}`));
      }
      if (this.#projectCreated) {
        client.project = undefined;
        await client
          .request('DELETE', `/1.0/projects/${this.#options.project}`)
          .then(() => (this.#projectCreated = false))
          .catch(warn(`project ${this.#options.project}`));
      }
      client.close();
      this.#client = null;
    }
    await this.#cli?.cleanup().catch(warn('lxc configuration directory'));
    this.#cli = null;
    if (this.#started) {
      this.#started = false;
      warnings.push(...(await this.#options.daemon.stop()));
    }
    return warnings;
  }
}
