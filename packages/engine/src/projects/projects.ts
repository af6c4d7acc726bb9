// Projects: LXD's isolation unit. `default` always exists and cannot be
// deleted or renamed; a project holds its own profiles (features.profiles)
// and enforces limits and restrictions on what is created in it.
import type { Database, ProjectRecord, Stores } from '@berth/db';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { OperationService } from '../operations/operations.ts';
import { apiUrl } from '../api-url.ts';
import {
  ProjectName,
  ProjectPut,
  ProjectsPost,
  type ConfigMap,
  type Operation,
  type Project,
  type ProjectState,
} from '../schemas/index.ts';
import { defaultNewProjectFeatures, projectSetting, validProjectConfig } from './project-config.ts';
import { checkProjectLimits, projectUsage } from './project-limits.ts';
import { expandedInstancesOf } from '../config/expanded-instances.ts';
import { parseInput } from '../parse-input.ts';

export const defaultProjectName = 'default';
/** The default project's default profile starts with a root disk on the `default` pool, as after `lxd init`. */
const defaultProfileDevices = { root: { type: 'disk', path: '/', pool: 'default' } };
const featureKeys = [
  'features.images',
  'features.profiles',
  'features.storage.volumes',
  'features.networks',
];

/**
 * A caller's rule on a project's config change, judged inside the write's
 * transaction: throws to refuse.
 */
export type ProjectChangeCheck = (
  current: Readonly<Record<string, string>>,
  next: Readonly<Record<string, string>>,
) => void;

export class ProjectService {
  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
    private readonly operations: OperationService,
  ) {}

  /**
   * Creates the `default` project and its `default` profile on first start,
   * with a root disk and, when there is a default network, an `eth0` on it
   * (what `lxd init` sets up).
   */
  async ensureDefault(options: { network?: string } = {}): Promise<void> {
    await this.db.transaction(async (tx) => {
      let project = await tx.projects.get(defaultProjectName);
      project ??= await tx.projects.create({
        name: defaultProjectName,
        description: 'Default Berth project',
        config: { ...defaultNewProjectFeatures, 'features.networks': 'true' },
      });
      if (!(await tx.profiles.get(defaultProjectName, 'default'))) {
        await tx.profiles.create(project.id, {
          name: 'default',
          description: 'Default Berth profile',
          devices: {
            ...defaultProfileDevices,
            ...(options.network
              ? { eth0: { type: 'nic', network: options.network, name: 'eth0' } }
              : {}),
          },
        });
      }
    });
  }

  async list(): Promise<Project[]> {
    const records = await this.db.projects.list();
    return Promise.all(records.map((r) => this.#toApi(r)));
  }

  async names(): Promise<string[]> {
    return (await this.db.projects.list()).map((p) => p.name);
  }

  async get(name: string): Promise<Project> {
    return this.#toApi(await this.record(name));
  }

  /** The stored project, or NOT_FOUND. */
  async record(name: string): Promise<ProjectRecord> {
    const record = await this.db.projects.get(name);
    if (!record) throw EngineError.notFound('Project', { field: 'project' });
    return record;
  }

  /** The project whose profiles `project` uses (itself, or `default` without features.profiles). */
  async profileProject(project: string): Promise<string> {
    const record = await this.record(project);
    return profileProjectOf(project, record.config);
  }

  async create(input: ProjectsPost): Promise<Project> {
    const req = parseInput(ProjectsPost, input);
    const name = parseInput(ProjectName, req.name, 'name');
    if (name === defaultProjectName)
      throw new EngineError('ALREADY_EXISTS', `Project "${name}" already exists`, {
        field: 'name',
      });
    const config = { ...defaultNewProjectFeatures, ...req.config };
    validProjectConfig(config);
    const created = await this.db.transaction(async (tx) => {
      if (await tx.projects.get(name)) {
        throw new EngineError('ALREADY_EXISTS', `Project "${name}" already exists`, {
          field: 'name',
        });
      }
      const project = await tx.projects.create({ name, description: req.description, config });
      if (projectSetting(config, 'features.profiles') === 'true') {
        // As LXD 5.0 does: empty, so an instance needs a root disk from
        // another profile or its own devices (`lxc profile device add
        // default root disk path=/ pool=default --project p`).
        await tx.profiles.create(project.id, {
          name: 'default',
          description: `Default Berth profile for project ${name}`,
        });
      }
      return project;
    });
    this.events.lifecycle(name, 'project-created', apiUrl.project(name));
    return this.#toApi(created);
  }

  /**
   * PUT: replaces the description and config. `check` sees the config as
   * stored and as it would be, inside the same transaction, so a caller's
   * rule on the change (the web's reserved keys) judges what is replaced.
   */
  async update(name: string, input: ProjectPut, check?: ProjectChangeCheck): Promise<Project> {
    return this.#write(name, () => input, check);
  }

  /** PATCH: merges config keys into the current ones (read and written in one transaction). */
  async patch(
    name: string,
    input: { description?: string; config?: ConfigMap },
    check?: ProjectChangeCheck,
  ): Promise<Project> {
    return this.#write(
      name,
      (current) => ({
        description: input.description ?? current.description,
        config: { ...current.config, ...input.config },
      }),
      check,
    );
  }

  async #write(
    name: string,
    next: (current: ProjectRecord) => ProjectPut,
    check: ProjectChangeCheck | undefined,
  ): Promise<Project> {
    const updated = await this.db.transaction(async (tx) => {
      const record = await tx.projects.get(name);
      if (!record) throw EngineError.notFound('Project', { field: 'project' });
      const req = parseInput(ProjectPut, next(record));
      check?.(record.config, req.config);
      validProjectConfig(req.config);
      const contents = await tx.projects.contents(record.id);
      const inUse =
        contents.instances.length > 0 ||
        contents.images.length > 0 ||
        contents.profiles.some((p) => p !== 'default');
      for (const key of featureKeys) {
        if (
          (record.config[key] ?? '') !== (req.config[key] ?? '') &&
          inUse &&
          name !== defaultProjectName
        ) {
          throw EngineError.invalid(
            `config["${key}"]`,
            'features can only be changed on empty projects',
          );
        }
      }
      // New limits must hold for what the project already runs.
      const instances = await expandedInstancesOf(
        tx,
        name,
        profileProjectOf(record.name, req.config),
      );
      checkProjectLimits(req.config, instances);
      await tx.projects.update(record.id, { description: req.description, config: req.config });
      return { ...record, description: req.description, config: req.config };
    });
    this.events.lifecycle(name, 'project-updated', apiUrl.project(name));
    return this.#toApi(updated);
  }

  /**
   * `rename` as an operation, as LXD answers it: the name and the project
   * are checked at once, the rename (which needs an empty project) runs in it.
   */
  async startRename(name: string, newName: string): Promise<Operation> {
    this.#checkRename(name, newName);
    await this.record(name);
    return this.operations.startTask(
      {
        project: name,
        description: 'Renaming project',
        resources: { projects: [apiUrl.project(name)] },
      },
      () => this.rename(name, newName),
    );
  }

  #checkRename(name: string, newName: string): string {
    const target = parseInput(ProjectName, newName, 'name');
    if (name === defaultProjectName)
      throw EngineError.invalid('name', 'the default project cannot be renamed');
    return target;
  }

  async rename(name: string, newName: string): Promise<Project> {
    const target = this.#checkRename(name, newName);
    const record = await this.db.transaction(async (tx) => {
      const record = await tx.projects.get(name);
      if (!record) throw EngineError.notFound('Project', { field: 'project' });
      if (await tx.projects.get(target))
        throw new EngineError('ALREADY_EXISTS', `Project "${target}" already exists`, {
          field: 'name',
        });
      await this.#assertEmpty(tx, record, 'renamed');
      await tx.projects.rename(record.id, target);
      return { ...record, name: target };
    });
    this.events.lifecycle(target, 'project-renamed', apiUrl.project(target), { old_name: name });
    return this.#toApi(record);
  }

  async delete(name: string): Promise<void> {
    if (name === defaultProjectName)
      throw EngineError.invalid('name', 'the default project cannot be deleted');
    await this.db.transaction(async (tx) => {
      const record = await tx.projects.get(name);
      if (!record) throw EngineError.notFound('Project', { field: 'project' });
      await this.#assertEmpty(tx, record, 'deleted');
      await tx.projects.delete(record.id);
    });
    this.events.lifecycle(name, 'project-deleted', apiUrl.project(name));
  }

  /** Usage against limits, like `GET /1.0/projects/<name>/state`. */
  async state(name: string): Promise<ProjectState> {
    const record = await this.record(name);
    const instances = await expandedInstancesOf(
      this.db,
      name,
      profileProjectOf(record.name, record.config),
    );
    return { resources: projectUsage(record.config, instances) };
  }

  async #assertEmpty(tx: Stores, record: ProjectRecord, verb: string): Promise<void> {
    const contents = await tx.projects.contents(record.id);
    const leftovers = [
      ...contents.instances.map((n) => `instance "${n}"`),
      ...contents.profiles.filter((n) => n !== 'default').map((n) => `profile "${n}"`),
      ...contents.images.map((f) => `image "${f.slice(0, 12)}"`),
    ];
    if (leftovers.length > 0) {
      throw new EngineError(
        'CONFLICT',
        `Only empty projects can be ${verb}; still in use by ${leftovers.join(', ')}`,
      );
    }
  }

  async #toApi(record: ProjectRecord): Promise<Project> {
    const contents = await this.db.projects.contents(record.id);
    return {
      name: record.name,
      description: record.description,
      config: record.config,
      used_by: [
        ...contents.instances.map((n) => apiUrl.instance(record.name, n)),
        ...contents.profiles.map((n) => apiUrl.profile(record.name, n)),
        ...contents.images.map((f) => apiUrl.image(record.name, f)),
      ],
    };
  }
}

/** The project whose profiles `project` uses: itself, or `default` when features.profiles is off. */
export function profileProjectOf(project: string, config: ConfigMap): string {
  return projectSetting(config, 'features.profiles') === 'true' ? project : defaultProjectName;
}

/** The project whose images `project` sees and adds to: itself, or `default` when features.images is off. */
export function imageProjectOf(project: string, config: ConfigMap): string {
  return projectSetting(config, 'features.images') === 'true' ? project : defaultProjectName;
}
