// One daemon that speaks LXD's REST API (the real LXD, or Berth's server)
// with a throwaway project in it: what the container subject
// (daemon-subject.ts) and the VM subject (daemon-vm-subject.ts) both set up
// and tear down. The project has its own images (the bench imports its
// tarballs into it; Berth does not read a project's images from `default`
// when features.images=false) and borrows `default`'s profiles, and is
// named the same on every daemon, so the requests are identical and
// nothing an admin owns is touched or counted.
import { LxcCli } from './lxc-cli.ts';
import { LxdClient, LxdError } from './lxd-client.ts';
import { runPool } from './pool.ts';

/** The daemon's own life: whatever starts it (or finds it running) and stops it. */
export interface Daemon {
  /** Makes sure the daemon answers and returns its directory (LXD_DIR). Throws NotAvailable when it cannot. */
  start(): Promise<string>;
  /** Stops what start() started (nothing for a daemon that was already running); returns warnings. */
  stop(): Promise<string[]>;
  /** Extra words for the method line (how the daemon runs). */
  readonly description: string;
}

export class DaemonProject {
  #client: LxdClient | null = null;
  #cli: LxcCli | null = null;
  #dir: string | null = null;
  #projectCreated = false;
  readonly #images = new Set<string>();
  /** Instances that may exist: removed at close. */
  readonly created = new Set<string>();
  #started = false;

  constructor(
    readonly label: string,
    readonly daemon: Daemon,
    readonly project: string,
  ) {}

  get client(): LxdClient {
    if (!this.#client) throw new Error(`${this.label}: not prepared`);
    return this.#client;
  }

  get cli(): LxcCli {
    if (!this.#cli) throw new Error(`${this.label}: not prepared`);
    return this.#cli;
  }

  /** The daemon's directory (its unix.socket), once opened. */
  get dir(): string {
    if (!this.#dir) throw new Error(`${this.label}: not prepared`);
    return this.#dir;
  }

  /** Starts (or finds) the daemon and creates the project; every request then goes to it. */
  async open(): Promise<void> {
    this.#started = true;
    this.#dir = await this.daemon.start();
    this.#client = new LxdClient(`${this.#dir}/unix.socket`);
    this.#cli = new LxcCli(this.#dir, this.project);
    await this.#cli.prepare();
    await this.#client.request('POST', '/1.0/projects', {
      name: this.project,
      description: 'Berth bench (temporary)',
      config: {
        'features.images': 'true',
        'features.profiles': 'false',
        'features.storage.volumes': 'false',
      },
    });
    this.#projectCreated = true;
    this.#client.project = this.project;
  }

  /** `lxc image import TARBALL --alias ALIAS` into the project (removed at close). */
  async importImage(tarball: string, alias: string): Promise<void> {
    await this.cli.run(['image', 'import'], [tarball, '--alias', alias]);
    const found = await this.client.request<{ target: string }>(
      'GET',
      `/1.0/images/aliases/${alias}`,
    );
    this.#images.add(found.metadata.target);
  }

  async status(name: string): Promise<string> {
    return (await this.client.request<{ status: string }>('GET', `/1.0/instances/${name}`)).metadata
      .status;
  }

  /** Stops (forced) if needed and deletes one instance; gone already is fine. */
  async remove(name: string): Promise<void> {
    try {
      if ((await this.status(name)) !== 'Stopped')
        await this.client.run('PUT', `/1.0/instances/${name}/state`, {
          action: 'stop',
          force: true,
          timeout: 30,
        });
      await this.client.run('DELETE', `/1.0/instances/${name}`);
    } catch (error) {
      // Already gone counts as removed (a failed create may leave nothing).
      if (!(error instanceof LxdError && error.status === 404)) throw error;
    }
    this.created.delete(name);
  }

  /** Removes the instances, images and project, then stops the daemon if it was started here. */
  async close(): Promise<string[]> {
    const warnings: string[] = [];
    const warn = (what: string) => (error: unknown) =>
      void warnings.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    const client = this.#client;
    if (client) {
      // A few at a time: deleting a hundred instances one by one takes long.
      await runPool([...this.created], 4, (name) => this.remove(name).catch(warn(name)));
      for (const fingerprint of [...this.#images]) {
        await client
          .run('DELETE', `/1.0/images/${fingerprint}`)
          .then(() => this.#images.delete(fingerprint))
          .catch(warn(`image ${fingerprint}`));
      }
      if (this.#projectCreated) {
        client.project = undefined;
        await client
          .request('DELETE', `/1.0/projects/${this.project}`)
          .then(() => (this.#projectCreated = false))
          .catch(warn(`project ${this.project}`));
      }
      client.close();
      this.#client = null;
    }
    await this.#cli?.cleanup().catch(warn('lxc configuration directory'));
    this.#cli = null;
    if (this.#started) {
      this.#started = false;
      warnings.push(...(await this.daemon.stop()));
    }
    return warnings;
  }
}
