// Subject 4: Berth's engine in this process (createEngine on a temp data
// dir), no HTTP in between: the server row minus this is what the REST layer
// and its transport cost. Same project layout and image as the daemons.
//
// Each call is guarded: an engine that answers NOT_IMPLEMENTED /
// DRIVER_UNAVAILABLE (say, no LXC on the host) makes that row "not
// available: <reason>", never a number.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createEngine,
  isEngineError,
  type Engine,
  type Operation,
} from '../packages/engine/src/index.ts';
import { IMAGE_ALIAS, type BenchImage } from './bench-image.ts';
import { NotAvailable, type Subject, type SubjectPath } from './subject.ts';

/** Turns "this is not built yet" into NotAvailable; real failures pass through. */
export function notYet(what: string, error: unknown): never {
  if (
    isEngineError(error) &&
    (error.code === 'NOT_IMPLEMENTED' || error.code === 'DRIVER_UNAVAILABLE')
  ) {
    throw new NotAvailable(`${what}: ${error.message}`);
  }
  throw error;
}

export async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    notYet(what, error);
  }
}

/** Waits for an engine operation and throws unless it succeeded (NotAvailable for unbuilt parts). */
export async function awaitOperation(
  engine: Engine,
  what: string,
  op: Operation,
): Promise<Operation> {
  const done = await engine.operations.wait(op.id);
  if (done.status === 'Success') return done;
  // An operation's error is only text, its EngineError code is gone: the
  // engine's own wording for unbuilt parts is the only clue left.
  if (
    /not (available|implemented) yet|not part of this build|driver is unavailable/i.test(done.err)
  ) {
    throw new NotAvailable(`${what}: ${done.err}`);
  }
  throw new Error(`${what}: operation ${done.status}: ${done.err}`);
}

export class BerthEngineSubject implements Subject {
  readonly id = 'berth-engine' as const;
  readonly label = 'Berth (in-process)';
  readonly paths: { api: SubjectPath };

  #dataDir: string | null = null;
  /** The bench's own bridge, so it never touches a real berthbr0. */
  readonly #bridge = `be${randomBytes(4).toString('hex')}`;
  #engine: Engine | null = null;
  readonly #created = new Set<string>();

  constructor(private readonly options: { project: string; image: BenchImage }) {
    this.paths = { api: this.#apiPath() };
  }

  get #e(): Engine {
    if (!this.#engine) throw new Error('Berth engine: not prepared');
    return this.#engine;
  }

  get #project(): string {
    return this.options.project;
  }

  /** Waits for an operation and throws unless it succeeded. */
  #wait(what: string, op: Operation): Promise<Operation> {
    return awaitOperation(this.#e, what, op);
  }

  async prepare(): Promise<void> {
    this.#dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-engine-'));
    try {
      this.#engine = await createEngine({ dataDir: this.#dataDir, defaultNetwork: this.#bridge });
    } catch (error) {
      throw new NotAvailable(`createEngine failed: ${(error as Error).message}`);
    }
    const lxc = this.#e.drivers().find((d) => d.type === 'container');
    if (!lxc?.available) throw new NotAvailable(`no container driver: ${lxc?.reason ?? 'unknown'}`);
    await this.#e.projects.create({
      name: this.#project,
      description: 'Berth bench (temporary)',
      config: {
        'features.images': 'true',
        'features.profiles': 'false',
        'features.storage.volumes': 'false',
      },
    });
    await this.#wait(
      'importing the busybox image',
      await this.#e.images.importTarball(this.#project, await this.options.image.tarball(), {
        aliases: [IMAGE_ALIAS],
      }),
    );
  }

  async #create(name: string): Promise<void> {
    await guarded('create from image', async () => {
      this.#created.add(name);
      const { operation } = await this.#e.instances.create(this.#project, {
        name,
        type: 'container',
        source: { type: 'image', alias: IMAGE_ALIAS },
      });
      await this.#wait('create from image', operation);
    });
  }

  async #changeState(name: string, action: 'start' | 'stop'): Promise<void> {
    await guarded(action, async () => {
      await this.#wait(
        action,
        await this.#e.instances.changeState(this.#project, name, { action, force: true }),
      );
    });
  }

  #apiPath(): SubjectPath {
    return {
      method:
        'the engine API in-process, every operation awaited with engine.operations.wait. ' +
        'launch = instances.create + changeState start; stop = changeState {stop, force}; exec = instances.exec; ' +
        'snapshot = snapshots.create; delete = instances.delete; list = instances.names / list / listFull',
      launch: async (name) => {
        await this.#create(name);
        await this.#changeState(name, 'start');
      },
      start: (name) => this.#changeState(name, 'start'),
      stopForce: (name) => this.#changeState(name, 'stop'),
      exec: async (name) => {
        const result = await guarded('exec', () =>
          this.#e.instances.exec(this.#project, name, { command: ['true'] }),
        );
        if (result.exitCode !== 0)
          throw new Error(
            `exec true in ${name}: exit code ${result.exitCode}: ${result.stderr.trim()}`,
          );
      },
      snapshot: async (name, snapshot) => {
        await guarded('snapshot', async () => {
          await this.#wait(
            'snapshot',
            await this.#e.snapshots.create(this.#project, name, { name: snapshot }),
          );
        });
      },
      delete: async (name) => {
        await guarded('delete', () => this.#e.instances.delete(this.#project, name));
        this.#created.delete(name);
      },
      lists: {
        'list-0': async () => (await this.#e.instances.names(this.#project)).length,
        'list-1': async () => (await this.#e.instances.list(this.#project)).length,
        'list-2': async () => (await this.#e.instances.listFull(this.#project)).length,
      },
    };
  }

  async status(name: string): Promise<string> {
    return (await this.#e.instances.get(this.#project, name)).status;
  }

  async createStopped(name: string): Promise<void> {
    await this.#create(name);
  }

  async remove(name: string): Promise<void> {
    try {
      await this.#e.instances.delete(this.#project, name, { force: true });
    } catch (error) {
      if (!(isEngineError(error) && error.code === 'NOT_FOUND')) throw error;
    }
    this.#created.delete(name);
  }

  async cleanup(): Promise<string[]> {
    const warnings: string[] = [];
    if (this.#engine) {
      for (const name of [...this.#created]) {
        await this.remove(name).catch((error: unknown) =>
          warnings.push(`${name}: ${String(error)}`),
        );
      }
      await this.#engine.networks
        .stop(this.#bridge)
        .catch((error: unknown) => warnings.push(`bridge ${this.#bridge}: ${String(error)}`));
      await this.#engine
        .close()
        .catch((error: unknown) => warnings.push(`close: ${String(error)}`));
      this.#engine = null;
    }
    // The data dir holds the project and image: removing it removes them.
    if (this.#dataDir) {
      await rm(this.#dataDir, { recursive: true, force: true }).catch((error: unknown) =>
        warnings.push(String(error)),
      );
      this.#dataDir = null;
    }
    return warnings;
  }
}
