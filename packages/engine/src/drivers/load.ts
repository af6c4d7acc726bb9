// Which driver runs which instance type (LXD's load.go), probed once at
// engine start so the user can see which drivers work on this host and why
// not. Only the engine's facade loads drivers; everything else is handed the
// registry.
import { InstanceType } from '../schemas/index.ts';
import type {
  DriverEnvironment,
  DriverFactories,
  DriverSupport,
  InstanceDriver,
} from './driver.ts';
import { lxcDriverFactory } from './lxc/lxc-factory.ts';
import { qemuDriverFactory } from './qemu/qemu-factory.ts';
import { DriverRegistry, type DriverInfo } from './registry.ts';

export const driverFactories: DriverFactories = {
  container: lxcDriverFactory,
  'virtual-machine': qemuDriverFactory,
};

/** Probes every factory and makes the drivers that work here; a probe that throws is a reason. */
export async function loadDrivers(
  env: DriverEnvironment,
  factories: DriverFactories = driverFactories,
): Promise<DriverRegistry> {
  const drivers = new Map<InstanceType, InstanceDriver>();
  const info: DriverInfo[] = [];
  for (const type of InstanceType.options) {
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
    info.push({ type, name: factory.name, ...support });
    if (support.available) drivers.set(type, factory.create(env));
  }
  return new DriverRegistry(drivers, info);
}
