// The driver registry: one factory per instance type, probed once at engine
// start, so the user can see which drivers work on this host and why not.
import { EngineError } from '../errors.ts';
import type { InstanceType } from '../schemas/index.ts';
import type { DriverSupport, InstanceDriver } from './driver.ts';
import { lxcDriverFactory } from './lxc/lxc-factory.ts';
import { qemuDriverFactory } from './qemu/qemu-factory.ts';

/** What happened to an instance outside an engine call (LXC hooks, a QEMU exit). */
export interface InstanceHostEvent {
  type: 'started' | 'stopping' | 'stopped';
  project: string;
  name: string;
  /** For `stopped`: `reboot` when the instance restarts itself, else `stop`. */
  target?: 'stop' | 'reboot';
}

export interface DriverEnvironment {
  dataDir: string;
  /** Makes sure a managed network exists and is up; returns its bridge interface. */
  ensureNetwork(name: string): Promise<{ bridge: string; mtu?: number }>;
  /** Drivers report instance events they notice (hooks, exits) here. */
  onInstanceEvent(event: InstanceHostEvent): void;
}

export interface DriverFactory {
  readonly name: InstanceDriver['name'];
  probe(env: DriverEnvironment): Promise<DriverSupport>;
  create(env: DriverEnvironment): InstanceDriver;
}

export type DriverFactories = Record<InstanceType, DriverFactory>;

/**
 * A factory for a driver this build does not ship yet: it probes as
 * unavailable, with the reason, and never pretends to run an instance.
 */
export function unavailableDriver(name: InstanceDriver['name'], reason: string): DriverFactory {
  return {
    name,
    probe: async () => ({ available: false, reason }),
    create: () => {
      throw new EngineError('DRIVER_UNAVAILABLE', `The ${name} driver is unavailable: ${reason}`);
    },
  };
}

export const defaultDriverFactories: DriverFactories = {
  container: lxcDriverFactory,
  'virtual-machine': qemuDriverFactory,
};

export interface DriverInfo extends DriverSupport {
  type: InstanceType;
  name: InstanceDriver['name'];
}

export class DriverRegistry {
  readonly #drivers = new Map<InstanceType, InstanceDriver>();
  readonly #info: DriverInfo[] = [];

  private constructor() {}

  static async load(factories: DriverFactories, env: DriverEnvironment): Promise<DriverRegistry> {
    const registry = new DriverRegistry();
    for (const type of Object.keys(factories) as InstanceType[]) {
      const factory = factories[type];
      let support: DriverSupport;
      try {
        support = await factory.probe(env);
      } catch (error) {
        support = {
          available: false,
          reason: error instanceof Error ? error.message : String(error),
        };
      }
      registry.#info.push({ type, name: factory.name, ...support });
      if (support.available) registry.#drivers.set(type, factory.create(env));
    }
    return registry;
  }

  /** Which drivers work here, and why not (shown to users, like LXD's `driver` field). */
  info(): DriverInfo[] {
    return this.#info.map((i) => ({ ...i }));
  }

  /** Stops every driver's watchers (at engine close; instances keep running). */
  close(): void {
    for (const driver of this.#drivers.values()) driver.close();
  }

  has(type: InstanceType): boolean {
    return this.#drivers.has(type);
  }

  get(type: InstanceType): InstanceDriver {
    const driver = this.#drivers.get(type);
    if (driver) return driver;
    const info = this.#info.find((i) => i.type === type);
    throw new EngineError(
      'DRIVER_UNAVAILABLE',
      `No driver can run instances of type "${type}" on this host: ${info?.reason ?? 'not registered'}`,
    );
  }
}
