// Profiles: reusable config and devices applied to instances in order.
// Changing one changes every instance that uses it, so an update is checked
// against all of them first and lands for none if any would become invalid.
import type { Database, ProfileRecord, Stores } from '@berth/db';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import { apiUrl } from '../api-url.ts';
import {
  ProfilePut,
  ProfilesPost,
  type ConfigMap,
  type DeviceMap,
  type Profile,
} from '../schemas/index.ts';
import { parseInput } from '../parse-input.ts';
import { validConfig } from '../config/valid-config.ts';
import { validDevices } from '../config/devices.ts';
import { checkEffectiveRestrictions } from '../projects/project-restrictions.ts';
import { checkProjectLimits } from '../projects/project-limits.ts';
import { profileProjectOf } from '../projects/projects.ts';
import { expandInstance } from '../config/expanded-instances.ts';
import { validateExpanded } from '../projects/validate-instance.ts';

/** LXD's profile name rules (lxd/profiles.go). */
export function validProfileName(name: string): void {
  if (name === '') throw EngineError.invalid('name', 'No name provided');
  if (name.includes('/'))
    throw EngineError.invalid('name', 'Profile names may not contain slashes');
  if (name === '.' || name === '..')
    throw EngineError.invalid('name', `Invalid profile name "${name}"`);
  if (/\s/.test(name))
    throw EngineError.invalid('name', 'Profile names may not contain white space');
  if (name.length > 63)
    throw EngineError.invalid('name', 'Profile names must be at most 63 characters long');
}

/** Who applies a profile change to the running instances that use it (the instance service). */
export interface ProfileUsers {
  applyProfileChange(users: { project: string; name: string }[]): Promise<void>;
}

export class ProfileService {
  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
    private readonly instances: ProfileUsers,
  ) {}

  async list(project: string): Promise<Profile[]> {
    const home = await this.#home(this.db, project);
    const records = await this.db.profiles.list(home.name);
    return Promise.all(records.map((r) => this.#toApi(r)));
  }

  async get(project: string, name: string): Promise<Profile> {
    return this.#toApi(await this.#record(this.db, project, name));
  }

  async create(project: string, input: ProfilesPost): Promise<Profile> {
    const req = parseInput(ProfilesPost, input);
    validProfileName(req.name);
    this.#validate(req.config, req.devices);
    const record = await this.db.transaction(async (tx) => {
      const home = await this.#home(tx, project);
      await checkEffectiveRestrictions(home.config, {
        what: `profile "${req.name}"`,
        config: req.config,
        devices: req.devices,
      });
      if (await tx.profiles.get(home.name, req.name)) {
        throw new EngineError('ALREADY_EXISTS', `Profile "${req.name}" already exists`, {
          field: 'name',
        });
      }
      return tx.profiles.create(home.id, req);
    });
    this.events.lifecycle(
      record.project,
      'profile-created',
      apiUrl.profile(record.project, record.name),
    );
    return this.#toApi(record);
  }

  async update(project: string, name: string, input: ProfilePut): Promise<Profile> {
    const req = parseInput(ProfilePut, input);
    this.#validate(req.config, req.devices);
    const { record, users } = await this.db.transaction(async (tx) => {
      const home = await this.#home(tx, project);
      const current = await this.#record(tx, project, name);
      await checkEffectiveRestrictions(home.config, {
        what: `profile "${name}"`,
        config: req.config,
        devices: req.devices,
      });
      const next: ProfileRecord = {
        ...current,
        description: req.description,
        config: req.config,
        devices: req.devices,
      };
      const users = await tx.profiles.usedBy(current.id);
      await this.#checkUsers(tx, current, next, users);
      await tx.profiles.update(current.id, req);
      return { record: next, users };
    });
    this.events.lifecycle(
      record.project,
      'profile-updated',
      apiUrl.profile(record.project, record.name),
    );
    await this.instances.applyProfileChange(users);
    return this.#toApi(record);
  }

  /** PATCH: config and devices are merged into the current ones. */
  async patch(
    project: string,
    name: string,
    input: { description?: string; config?: ConfigMap; devices?: DeviceMap },
  ): Promise<Profile> {
    const current = await this.#record(this.db, project, name);
    return this.update(project, name, {
      description: input.description ?? current.description,
      config: { ...current.config, ...input.config },
      devices: { ...current.devices, ...input.devices },
    });
  }

  async rename(project: string, name: string, newName: string): Promise<Profile> {
    if (name === 'default')
      throw EngineError.invalid('name', 'The "default" profile cannot be renamed');
    validProfileName(newName);
    const record = await this.db.transaction(async (tx) => {
      const current = await this.#record(tx, project, name);
      if (await tx.profiles.get(current.project, newName)) {
        throw new EngineError('ALREADY_EXISTS', `Profile "${newName}" already exists`, {
          field: 'name',
        });
      }
      await tx.profiles.rename(current.id, newName);
      return { ...current, name: newName };
    });
    this.events.lifecycle(
      record.project,
      'profile-renamed',
      apiUrl.profile(record.project, newName),
      { old_name: name },
    );
    return this.#toApi(record);
  }

  async delete(project: string, name: string): Promise<void> {
    if (name === 'default')
      throw EngineError.invalid('name', 'The "default" profile cannot be deleted');
    const record = await this.db.transaction(async (tx) => {
      const current = await this.#record(tx, project, name);
      const users = await tx.profiles.usedBy(current.id);
      if (users.length > 0) {
        throw new EngineError(
          'CONFLICT',
          `Profile "${name}" is currently in use by ${users.map((u) => `instance "${u.name}"`).join(', ')}`,
        );
      }
      await tx.profiles.delete(current.id);
      return current;
    });
    this.events.lifecycle(record.project, 'profile-deleted', apiUrl.profile(record.project, name));
  }

  #validate(config: ConfigMap, devices: DeviceMap): void {
    validConfig(config, { profile: true, expanded: false, allowVolatile: false });
    validDevices(devices, { profile: true, expanded: false });
  }

  /**
   * Every instance using the profile, with the new profile in place, must
   * stay valid and within its project's limits.
   */
  async #checkUsers(
    tx: Stores,
    current: ProfileRecord,
    next: ProfileRecord,
    users: { project: string; name: string }[],
  ): Promise<void> {
    const projects = [...new Set(users.map((u) => u.project))];
    for (const projectName of projects) {
      const project = await tx.projects.get(projectName);
      if (!project) continue;
      const profiles = (await tx.profiles.list(current.project)).map((p) =>
        p.id === current.id ? next : p,
      );
      const expanded = (await tx.instances.list(projectName)).map((r) =>
        expandInstance(r, profiles),
      );
      for (const instance of expanded) {
        if (!instance.record.profiles.includes(current.name)) continue;
        await validateExpanded(
          {
            name: instance.name,
            type: instance.type,
            localConfig: instance.record.config,
            localDevices: instance.record.devices,
            expandedConfig: instance.expandedConfig,
            expandedDevices: instance.expandedDevices,
          },
          project.config,
        );
      }
      checkProjectLimits(project.config, expanded);
    }
  }

  /** The project that holds `project`'s profiles. */
  async #home(tx: Stores, project: string) {
    const record = await tx.projects.get(project);
    if (!record) throw EngineError.notFound('Project', { field: 'project' });
    const home = profileProjectOf(project, record.config);
    if (home === project) return record;
    const other = await tx.projects.get(home);
    if (!other) throw EngineError.notFound('Project', { field: 'project' });
    return other;
  }

  async #record(tx: Stores, project: string, name: string): Promise<ProfileRecord> {
    const home = await this.#home(tx, project);
    const record = await tx.profiles.get(home.name, name);
    if (!record) throw EngineError.notFound('Profile', { field: 'name' });
    return record;
  }

  async #toApi(record: ProfileRecord): Promise<Profile> {
    const users = await this.db.profiles.usedBy(record.id);
    return {
      name: record.name,
      description: record.description,
      config: record.config,
      devices: record.devices,
      used_by: users.map((u) => apiUrl.instance(u.project, u.name)),
    };
  }
}
