// VM subject 4: Berth's engine in this process (createEngine on a temp data
// dir), no HTTP in between, with the busybox VM image built by the engine
// itself (engine.images.buildBusyboxVm). The server column minus this one
// is what the REST layer costs a VM.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine, isEngineError, type Engine } from '../packages/engine/src/index.ts';
import { untilExecSucceeds } from './agent-ready.ts';
import { awaitOperation, guarded } from './berth-engine-subject.ts';
import { BUILD_CACHE_DIR, VM_IMAGE_ALIAS } from './bench-vm-image.ts';
import { berthVmAccelerator, killQemusUnder } from './qemu-processes.ts';
import { NotAvailable } from './subject.ts';
import type { VmPath, VmSubject } from './vm-subject.ts';

/** How long a graceful stop may take before the engine forces it (LXD's default timeout). */
const STOP_TIMEOUT_S = 30;

export class BerthEngineVmSubject implements VmSubject {
  readonly id = 'berth-engine' as const;
  readonly label = 'Berth (in-process)';
  readonly paths: { api: VmPath };

  #dataDir: string | null = null;
  readonly #bridge: string;
  #engine: Engine | null = null;
  readonly #created = new Set<string>();

  constructor(private readonly options: { project: string; runTag: string }) {
    // The bench's own bridge (never a real berthbr0), named with the run's tag.
    this.#bridge = `bv${options.runTag}`;
    this.paths = { api: this.#apiPath() };
  }

  get #e(): Engine {
    if (!this.#engine) throw new Error('Berth engine: not prepared');
    return this.#engine;
  }

  get #project(): string {
    return this.options.project;
  }

  async prepare(): Promise<void> {
    this.#dataDir = await mkdtemp(
      path.join(os.tmpdir(), `bench-engine-vm-${this.options.runTag}-`),
    );
    try {
      this.#engine = await createEngine({
        dataDir: this.#dataDir,
        defaultNetwork: this.#bridge,
        scheduler: false,
        cacheDir: BUILD_CACHE_DIR,
      });
    } catch (error) {
      throw new NotAvailable(`createEngine failed: ${(error as Error).message}`);
    }
    const qemu = this.#e.drivers().find((d) => d.type === 'virtual-machine');
    if (!qemu?.available)
      throw new NotAvailable(`no virtual-machine driver: ${qemu?.reason ?? 'unknown'}`);
    await this.#e.projects.create({
      name: this.#project,
      description: 'Berth bench (temporary)',
      config: {
        'features.images': 'true',
        'features.profiles': 'false',
        'features.storage.volumes': 'false',
      },
    });
    await awaitOperation(
      this.#e,
      'building the busybox VM image',
      await this.#e.images.buildBusyboxVm(this.#project, { alias: VM_IMAGE_ALIAS }),
    );
  }

  async #changeState(name: string, action: 'start' | 'stop', force: boolean): Promise<void> {
    await guarded(action, async () => {
      await awaitOperation(
        this.#e,
        action,
        await this.#e.instances.changeState(this.#project, name, {
          action,
          force,
          timeout: STOP_TIMEOUT_S,
        }),
      );
    });
  }

  async #exec(name: string): Promise<void> {
    const result = await guarded('exec', () =>
      this.#e.instances.exec(this.#project, name, { command: ['true'] }),
    );
    if (result.exitCode !== 0)
      throw new Error(
        `exec true in ${name}: exit code ${result.exitCode}: ${result.stderr.trim()}`,
      );
  }

  #apiPath(): VmPath {
    return {
      method:
        'the engine API in-process, every operation awaited with engine.operations.wait. ' +
        'launch = instances.create {type: virtual-machine} + changeState start, then instances.exec `true` until it succeeds; ' +
        `start = changeState start, then the same; exec = instances.exec; stop = changeState {stop, timeout: ${STOP_TIMEOUT_S}}; ` +
        'stop --force = changeState {stop, force}; delete = instances.delete',
      launch: async (name) => {
        await guarded('create from image', async () => {
          this.#created.add(name);
          const { operation } = await this.#e.instances.create(this.#project, {
            name,
            type: 'virtual-machine',
            source: { type: 'image', alias: VM_IMAGE_ALIAS },
          });
          await awaitOperation(this.#e, 'create from image', operation);
        });
        await this.#changeState(name, 'start', false);
        await untilExecSucceeds(() => this.#exec(name));
      },
      start: async (name) => {
        await this.#changeState(name, 'start', false);
        await untilExecSucceeds(() => this.#exec(name));
      },
      exec: (name) => this.#exec(name),
      stop: async (name) => {
        const began = Date.now();
        await this.#changeState(name, 'stop', false);
        // Past its timeout the engine forces the stop without saying so.
        if (Date.now() - began >= STOP_TIMEOUT_S * 1000)
          throw new Error(`the graceful stop took ${STOP_TIMEOUT_S} s or more: it was forced`);
      },
      stopForce: (name) => this.#changeState(name, 'stop', true),
      delete: async (name) => {
        await guarded('delete', () => this.#e.instances.delete(this.#project, name));
        this.#created.delete(name);
      },
    };
  }

  async status(name: string): Promise<string> {
    return (await this.#e.instances.get(this.#project, name)).status;
  }

  accelerator(name: string): Promise<string | null> {
    return Promise.resolve(
      this.#dataDir ? berthVmAccelerator(this.#dataDir, this.#project, name) : null,
    );
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
    if (this.#dataDir) {
      // QEMU outlives the engine: whatever a broken run left is stopped by its pid file.
      warnings.push(...(await killQemusUnder(this.#dataDir)));
      await rm(this.#dataDir, { recursive: true, force: true }).catch((error: unknown) =>
        warnings.push(String(error)),
      );
      this.#dataDir = null;
    }
    return warnings;
  }
}
