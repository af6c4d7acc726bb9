// A daemon that speaks LXD's REST API on `<dir>/unix.socket` (the real LXD,
// or Berth's server), timed through two paths that are the same for every
// daemon:
//
//   api  the bench's own HTTP client (lxd-client.ts: keep-alive agent), the
//        same requests byte for byte, every async call followed by
//        GET /1.0/operations/<id>/wait, as `lxc` without --no-wait does
//   cli  the `lxc` client, with LXD_DIR set to the daemon's directory
//
// Everything runs in a throwaway project, named the same on every daemon
// (daemon-project.ts), into which the bench imports its busybox tarball.
import { IMAGE_ALIAS, type BenchImage } from './bench-image.ts';
import { DaemonProject, type Daemon } from './daemon-project.ts';
import type { LxcCli } from './lxc-cli.ts';
import type { LxdClient } from './lxd-client.ts';
import type { PathId, Subject, SubjectId, SubjectPath } from './subject.ts';

export type { Daemon } from './daemon-project.ts';

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
  readonly #daemon: DaemonProject;

  constructor(options: DaemonSubjectOptions) {
    this.#options = options;
    this.id = options.id;
    this.label = options.label;
    this.#daemon = new DaemonProject(options.label, options.daemon, options.project);
    this.paths = { api: this.#apiPath(), cli: this.#cliPath() };
  }

  get #c(): LxdClient {
    return this.#daemon.client;
  }

  get #lxc(): LxcCli {
    return this.#daemon.cli;
  }

  get #created(): Set<string> {
    return this.#daemon.created;
  }

  async prepare(): Promise<void> {
    await this.#daemon.open();
    await this.#daemon.importImage(await this.#options.image.tarball(), IMAGE_ALIAS);
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
    return this.#daemon.status(name);
  }

  async createStopped(name: string): Promise<void> {
    await this.#create(name);
  }

  remove(name: string): Promise<void> {
    return this.#daemon.remove(name);
  }

  cleanup(): Promise<string[]> {
    return this.#daemon.close();
  }
}
