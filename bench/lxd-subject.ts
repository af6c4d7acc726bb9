// Subject 2: the real LXD, through its REST API over the unix socket. Every
// async call is followed by GET /1.0/operations/<id>/wait, so a sample ends
// when the operation has finished, as `lxc` (without --no-wait) would.
//
// Everything runs in a throwaway project that borrows the default project's
// images and profiles: listing then sees exactly the bench's instances, and
// nothing an admin owns is ever touched or counted.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { runHost } from './host-command.ts';
import { runPool } from './pool.ts';
import { LxdClient, LxdError } from './lxd-client.ts';
import { NotAvailable, type Subject } from './subject.ts';

export const LXD_IMAGE_ALIAS = 'bench-busybox';

export class LxdSubject implements Subject {
  readonly id = 'lxd' as const;
  readonly label = 'LXD';
  readonly method =
    'REST over the unix socket (keep-alive), every async call followed by /1.0/operations/<id>/wait, in a throwaway project. ' +
    'launch = POST /1.0/instances + PUT state start; stop = PUT state {stop, force}; exec = POST exec {record-output} until the exit code; ' +
    'snapshot = POST snapshots; list `GET /1.0/instances?recursion=1` / `=2`; CLI row = `lxc exec NAME -- true` spawned';

  readonly #client: LxdClient;
  readonly #project = `bench-${randomBytes(4).toString('hex')}`;
  #projectCreated = false;
  readonly #created = new Set<string>();

  constructor(socketPath?: string) {
    this.#client = new LxdClient(socketPath);
  }

  async prepare(): Promise<void> {
    const socket = this.#client.socketPath;
    if (!existsSync(socket))
      throw new NotAvailable(
        `no LXD socket at ${socket} (install and start it: bench/setup-lxd.sh)`,
      );
    try {
      await this.#client.request('GET', '/1.0');
    } catch (error) {
      throw new NotAvailable(
        `LXD does not answer on ${socket}: ${(error as Error).message} (start it: bench/setup-lxd.sh)`,
      );
    }
    try {
      await this.#client.request('GET', `/1.0/images/aliases/${LXD_IMAGE_ALIAS}`);
    } catch {
      throw new NotAvailable(
        `LXD has no image "${LXD_IMAGE_ALIAS}" (import it: bench/setup-lxd.sh)`,
      );
    }
    await this.#client.request('POST', '/1.0/projects', {
      name: this.#project,
      description: 'Berth bench (temporary)',
      config: {
        'features.images': 'false',
        'features.profiles': 'false',
        'features.storage.volumes': 'false',
      },
    });
    this.#projectCreated = true;
    this.#client.project = this.#project;
  }

  #create(name: string) {
    this.#created.add(name);
    return this.#client.run('POST', '/1.0/instances', {
      name,
      type: 'container',
      source: { type: 'image', alias: LXD_IMAGE_ALIAS },
    });
  }

  #state(name: string, action: 'start' | 'stop', force = false) {
    return this.#client.run('PUT', `/1.0/instances/${name}/state`, { action, force, timeout: 30 });
  }

  async launch(name: string): Promise<void> {
    // Two operations, as `lxc launch` does: create, then start.
    await this.#create(name);
    await this.#state(name, 'start');
  }

  async status(name: string): Promise<string> {
    return (await this.#client.request<{ status: string }>('GET', `/1.0/instances/${name}`))
      .metadata.status;
  }

  async start(name: string): Promise<void> {
    await this.#state(name, 'start');
  }

  async stopForce(name: string): Promise<void> {
    await this.#state(name, 'stop', true);
  }

  async exec(name: string): Promise<void> {
    // record-output without websockets: LXD runs the command to completion
    // and the operation carries the exit code, the whole round-trip of an
    // `lxc exec` minus the CLI.
    const op = await this.#client.run('POST', `/1.0/instances/${name}/exec`, {
      command: ['true'],
      environment: {},
      'wait-for-websocket': false,
      interactive: false,
      'record-output': true,
    });
    const code = op.metadata?.['return'];
    if (code !== 0) throw new Error(`exec true in ${name}: exit code ${String(code)}`);
  }

  async execCli(name: string): Promise<void> {
    await runHost('lxc', ['exec', '--project', this.#project, name, '--', 'true']);
  }

  async snapshot(name: string, snapshot: string): Promise<void> {
    await this.#client.run('POST', `/1.0/instances/${name}/snapshots`, { name: snapshot });
  }

  async createStopped(name: string): Promise<void> {
    await this.#create(name);
  }

  async remove(name: string): Promise<void> {
    try {
      if ((await this.status(name)) !== 'Stopped') await this.#state(name, 'stop', true);
      await this.#client.run('DELETE', `/1.0/instances/${name}`);
    } catch (error) {
      // Already gone counts as removed (a failed create may leave nothing).
      if (!(error instanceof LxdError && error.status === 404)) throw error;
    }
    this.#created.delete(name);
  }

  async list(recursion: 1 | 2): Promise<number> {
    const res = await this.#client.request<unknown[]>('GET', '/1.0/instances', undefined, {
      recursion: String(recursion),
    });
    return res.metadata.length;
  }

  async cleanup(): Promise<string[]> {
    const warnings: string[] = [];
    // A few at a time: deleting a hundred instances one by one takes long.
    await runPool([...this.#created], 4, (name) =>
      this.remove(name).catch(
        (error: unknown) => void warnings.push(`LXD: ${name}: ${String(error)}`),
      ),
    );
    if (this.#projectCreated) {
      this.#client.project = undefined;
      await this.#client
        .request('DELETE', `/1.0/projects/${this.#project}`)
        .then(() => (this.#projectCreated = false))
        .catch((error: unknown) =>
          warnings.push(`LXD: project ${this.#project}: ${String(error)}`),
        );
    }
    this.#client.close();
    return warnings;
  }
}
