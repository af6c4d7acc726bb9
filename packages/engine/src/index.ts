// @berth/engine: instances, projects, profiles, operations and events over
// real drivers. Web code talks to it only through this entry (and the
// client-safe `@berth/engine/schemas`).
export { createEngine, type Engine, type EngineConfig } from './engine.ts';
export { EngineError, EngineErrorCode, isEngineError } from './errors.ts';
export { EventBus, type EventFilter, type Subscription } from './events/event-bus.ts';
export type { OperationContext, StartOperation } from './operations/operations.ts';
export type {
  InstanceDriver,
  DriverInstance,
  DriverSupport,
  ExecProcess,
  ExecRequest,
  ConsoleStream,
} from './drivers/driver.ts';
export type { DriverFactory, DriverFactories } from './drivers/driver.ts';
export type { PreparedExec } from './instances/instance-exec.ts';
export type { ProjectChangeCheck } from './projects/projects.ts';
export type { DriverInfo } from './drivers/registry.ts';
export { expand, expandConfig, expandDevices } from './config/expand-config.ts';
export { apiUrl } from './api-url.ts';
export * from './schemas/index.ts';
