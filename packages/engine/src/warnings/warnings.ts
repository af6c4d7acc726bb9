// Warnings, as LXD keeps them: conditions the server noticed that an
// operator should know of (`lxc warning list`), in the database so they
// outlive restarts, counted each time they are seen again and marked
// resolved when the condition is gone. Users acknowledge or delete them.
import type { Database, WarningRecord } from '@berth/db';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { DriverInfo } from '../drivers/registry.ts';
import { parseInput } from '../parse-input.ts';
import { Warning, WarningPut } from '../schemas/warning.ts';

/** LXD's warning types Berth raises (lxd/db/warningtype), plus its own TCG one. */
export const WarningType = {
  instanceTypeNotOperational: 'Instance type not operational',
  instanceAutostartFailure: 'Failed to autostart instance',
  vmWithoutKvm: 'Virtual machines run without KVM',
} as const;

export type WarningSeverity = Warning['severity'];

function toApi(record: WarningRecord): Warning {
  return {
    uuid: record.uuid,
    location: record.location,
    project: record.project,
    type: record.type,
    count: record.count,
    first_seen_at: record.firstSeenAt.toISOString(),
    last_seen_at: record.lastSeenAt.toISOString(),
    last_message: record.lastMessage,
    severity: record.severity as WarningSeverity,
    status: record.status as Warning['status'],
    entity_url: record.entityUrl,
  };
}

const url = (uuid: string) => `/1.0/warnings/${uuid}`;

export class WarningService {
  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
    private readonly location = 'none',
  ) {}

  async raise(input: {
    type: string;
    message: string;
    severity: WarningSeverity;
    project?: string;
    entityUrl?: string;
  }): Promise<Warning> {
    return toApi(await this.db.warnings.raise({ ...input, location: this.location }));
  }

  async resolve(
    type: string,
    filter: { project?: string; entityUrl?: string } = {},
  ): Promise<void> {
    await this.db.warnings.resolve(type, filter);
  }

  /** What the drivers' probe found: a driver that cannot run, VMs under TCG. */
  async checkDrivers(drivers: readonly DriverInfo[]): Promise<void> {
    for (const driver of drivers) {
      const entityUrl = `/1.0/resources#${driver.type}`;
      if (driver.available)
        await this.resolve(WarningType.instanceTypeNotOperational, { entityUrl });
      else
        await this.raise({
          type: WarningType.instanceTypeNotOperational,
          severity: 'high',
          entityUrl,
          message: `${driver.type} instances (${driver.name}) cannot run: ${driver.reason ?? 'unavailable'}`,
        });
      if (driver.type !== 'virtual-machine') continue;
      if (driver.available && driver.details?.accel === 'tcg')
        await this.raise({
          type: WarningType.vmWithoutKvm,
          severity: 'low',
          message: `Virtual machines run under TCG (software emulation, much slower): ${driver.details['kvm'] ?? 'KVM is not usable'}`,
        });
      else await this.resolve(WarningType.vmWithoutKvm);
    }
  }

  async list(project?: string): Promise<Warning[]> {
    return (await this.db.warnings.list(project)).map(toApi);
  }

  async get(uuid: string): Promise<Warning> {
    const record = await this.db.warnings.get(uuid);
    if (!record) throw EngineError.notFound('Warning', { field: 'uuid' });
    return toApi(record);
  }

  async update(uuid: string, input: WarningPut): Promise<Warning> {
    const { status } = parseInput(WarningPut, input);
    const record = await this.db.warnings.setStatus(uuid, status);
    if (!record) throw EngineError.notFound('Warning', { field: 'uuid' });
    this.events.lifecycle(
      record.project,
      status === 'acknowledged' ? 'warning-acknowledged' : 'warning-reset',
      url(uuid),
    );
    return toApi(record);
  }

  async delete(uuid: string): Promise<void> {
    const record = await this.db.warnings.get(uuid);
    if (!record || !(await this.db.warnings.delete(uuid)))
      throw EngineError.notFound('Warning', { field: 'uuid' });
    this.events.lifecycle(record.project, 'warning-deleted', url(uuid));
  }
}
