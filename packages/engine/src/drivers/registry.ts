// The drivers this engine runs, by instance type, and what the probe found
// for each (drivers that do not work here are listed with the reason).
// load.ts fills it once at engine start.
import { EngineError } from '../errors.ts';
import type { InstanceType } from '../schemas/index.ts';
import type { DriverSupport, InstanceDriver } from './driver.ts';

export interface DriverInfo extends DriverSupport {
  type: InstanceType;
  name: InstanceDriver['name'];
}

export class DriverRegistry {
  readonly #drivers: ReadonlyMap<InstanceType, InstanceDriver>;
  readonly #info: readonly DriverInfo[];

  constructor(drivers: ReadonlyMap<InstanceType, InstanceDriver>, info: readonly DriverInfo[]) {
    this.#drivers = drivers;
    this.#info = info;
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
