// What every driver shares (LXD's driver_common.go): the environment the
// engine hands it, the console log both keep the same way, the state of an
// instance that runs nothing, and the errors a lifecycle call answers when
// the instance is in the wrong state, worded alike for both types.
import { EngineError } from '../errors.ts';
import {
  idleInstanceState,
  type DeviceMap,
  type InstanceState,
  type InstanceStatus,
  type InstanceType,
} from '../schemas/index.ts';
import { readConsoleLog } from './console-log.ts';
import type { DriverEnvironment, DriverInstance, InstanceDriver } from './driver.ts';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sorted devices of one type, so what is generated from them is stable. */
export function devicesOf(devices: DeviceMap, type: string): [string, Record<string, string>][] {
  return Object.entries(devices)
    .filter(([, device]) => device.type === type)
    .sort(([a], [b]) => a.localeCompare(b));
}

type InstanceRef = Pick<DriverInstance, 'project' | 'name'>;

export abstract class DriverCommon {
  abstract readonly type: InstanceType;
  abstract readonly name: InstanceDriver['name'];
  protected readonly env: DriverEnvironment;

  constructor(env: DriverEnvironment) {
    this.env = env;
  }

  /** Where the driver keeps the instance's runtime files; every driver has a console log. */
  abstract paths(instance: InstanceRef): { consoleLog: string };

  async consoleLog(instance: DriverInstance): Promise<string> {
    return readConsoleLog(this.paths(instance).consoleLog);
  }

  /** Zero use with `status`: what an instance reports while nothing of it runs. */
  protected idleState(status: InstanceStatus): InstanceState {
    return idleInstanceState(status);
  }

  protected notRunning(instance: InstanceRef): EngineError {
    return new EngineError('CONFLICT', `The instance ${instance.name} is not running`);
  }

  protected alreadyRunning(instance: InstanceRef): EngineError {
    return new EngineError('CONFLICT', `The instance ${instance.name} is already running`);
  }

  protected mustBeStopped(instance: InstanceRef, toBe: string): EngineError {
    return new EngineError(
      'CONFLICT',
      `The instance ${instance.name} must be stopped to be ${toBe}`,
    );
  }
}
