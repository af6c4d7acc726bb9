// Subject 3: Berth, through its engine API in-process (no HTTP in between;
// against LXD's unix socket that saves well under a millisecond per call,
// small next to what is measured).
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
import { NotAvailable, type Subject } from './subject.ts';

const PROJECT = 'default';
const IMAGE_ALIAS = 'busybox';

/** Turns "this is not built yet" into NotAvailable; real failures pass through. */
function notYet(what: string, error: unknown): never {
  if (
    isEngineError(error) &&
    (error.code === 'NOT_IMPLEMENTED' || error.code === 'DRIVER_UNAVAILABLE')
  ) {
    throw new NotAvailable(`${what}: ${error.message}`);
  }
  throw error;
}

async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    notYet(what, error);
  }
}

export class BerthSubject implements Subject {
  readonly id = 'berth' as const;
  readonly label = 'Berth';
  readonly notApplicable = { 'exec-cli': 'timed through the engine API only' };
  readonly method =
    'engine API in-process (createEngine on a temp data dir), every operation awaited with engine.operations.wait. ' +
    'launch = instances.create from the built-in busybox image + changeState start; stop = changeState {stop, force}; ' +
    'exec = instances.exec; snapshot = snapshots.create; list `instances.list()` / `instances.listFull()`';

  #dataDir: string | null = null;
  /** The bench's own bridge, so it never touches a real berthbr0. */
  readonly #bridge = `bb${randomBytes(4).toString('hex')}`;
  #engine: Engine | null = null;
  readonly #created = new Set<string>();

  get #e(): Engine {
    if (!this.#engine) throw new Error('Berth: not prepared');
    return this.#engine;
  }

  /** Waits for an operation and throws unless it succeeded. */
  async #wait(what: string, op: Operation): Promise<void> {
    const done = await this.#e.operations.wait(op.id);
    if (done.status === 'Success') return;
    // An operation's error is only text, its EngineError code is gone: the
    // engine's own wording for unbuilt parts is the only clue left.
    if (
      /not (available|implemented) yet|not part of this build|driver is unavailable/i.test(done.err)
    ) {
      throw new NotAvailable(`${what}: ${done.err}`);
    }
    throw new Error(`${what}: operation ${done.status}: ${done.err}`);
  }

  async prepare(): Promise<void> {
    this.#dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-berth-'));
    try {
      this.#engine = await createEngine({ dataDir: this.#dataDir, defaultNetwork: this.#bridge });
    } catch (error) {
      throw new NotAvailable(`createEngine failed: ${(error as Error).message}`);
    }
    const lxc = this.#e.drivers().find((d) => d.type === 'container');
    if (!lxc?.available) throw new NotAvailable(`no container driver: ${lxc?.reason ?? 'unknown'}`);
    await guarded('building the busybox image', async () => {
      await this.#wait(
        'building the busybox image',
        await this.#e.images.buildBusybox(PROJECT, { alias: IMAGE_ALIAS }),
      );
    });
  }

  async #create(name: string): Promise<void> {
    await guarded('create from image', async () => {
      this.#created.add(name);
      const { operation } = await this.#e.instances.create(PROJECT, {
        name,
        source: { type: 'image', alias: IMAGE_ALIAS },
        profiles: ['default'],
      });
      await this.#wait('create from image', operation);
    });
  }

  async #changeState(name: string, action: 'start' | 'stop'): Promise<void> {
    await guarded(action, async () => {
      await this.#wait(
        action,
        await this.#e.instances.changeState(PROJECT, name, { action, force: true }),
      );
    });
  }

  async launch(name: string): Promise<void> {
    await this.#create(name);
    await this.#changeState(name, 'start');
  }

  async status(name: string): Promise<string> {
    return (await this.#e.instances.get(PROJECT, name)).status;
  }

  async start(name: string): Promise<void> {
    await this.#changeState(name, 'start');
  }

  async stopForce(name: string): Promise<void> {
    await this.#changeState(name, 'stop');
  }

  async exec(name: string): Promise<void> {
    const result = await guarded('exec', () =>
      this.#e.instances.exec(PROJECT, name, { command: ['true'] }),
    );
    if (result.exitCode !== 0)
      throw new Error(
        `exec true in ${name}: exit code ${result.exitCode}: ${result.stderr.trim()}`,
      );
  }

  async snapshot(name: string, snapshot: string): Promise<void> {
    await guarded('snapshot', async () => {
      await this.#wait(
        'snapshot',
        await this.#e.snapshots.create(PROJECT, name, { name: snapshot }),
      );
    });
  }

  async createStopped(name: string): Promise<void> {
    await this.#create(name);
  }

  async remove(name: string): Promise<void> {
    try {
      await this.#e.instances.delete(PROJECT, name, { force: true });
    } catch (error) {
      if (!(isEngineError(error) && error.code === 'NOT_FOUND')) throw error;
    }
    this.#created.delete(name);
  }

  async list(recursion: 1 | 2): Promise<number> {
    const items = await guarded('list', () =>
      recursion === 1 ? this.#e.instances.list(PROJECT) : this.#e.instances.listFull(PROJECT),
    );
    return items.length;
  }

  async cleanup(): Promise<string[]> {
    const warnings: string[] = [];
    if (this.#engine) {
      for (const name of [...this.#created]) {
        await this.remove(name).catch((error: unknown) =>
          warnings.push(`Berth: ${name}: ${String(error)}`),
        );
      }
      await this.#engine.networks
        .stop(this.#bridge)
        .catch((error: unknown) =>
          warnings.push(`Berth: bridge ${this.#bridge}: ${String(error)}`),
        );
      await this.#engine
        .close()
        .catch((error: unknown) => warnings.push(`Berth: close: ${String(error)}`));
      this.#engine = null;
    }
    if (this.#dataDir) {
      await rm(this.#dataDir, { recursive: true, force: true }).catch((error: unknown) =>
        warnings.push(`Berth: ${String(error)}`),
      );
      this.#dataDir = null;
    }
    return warnings;
  }
}
