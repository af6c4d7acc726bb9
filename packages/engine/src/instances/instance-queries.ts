// Reading instances: names, lists (with LXD's filter), one instance, its
// live state, and the full view with snapshots and backups.
import {
  StatusCode,
  idleInstanceState,
  type Instance,
  type InstanceBackup,
  type InstanceFull,
  type InstanceSnapshot,
  type InstanceState,
} from '../schemas/index.ts';
import { profileProjectOf } from '../projects/projects.ts';
import { filterObjects } from '../filter/index.ts';
import { rootDiskOf } from '../config/devices.ts';
import { expandedInstancesOf, type ExpandedInstance } from '../config/expanded-instances.ts';
import {
  expandedListOf,
  expandedOf,
  poolOf,
  projectOf,
  statusOf,
  viewOf,
  type InstanceContext,
} from './instance-context.ts';
import { toInstanceSnapshot } from './snapshot-api.ts';

/** Names of a project's instances (LXD's recursion=0 gives their URLs). */
export async function instanceNames(ctx: InstanceContext, project: string): Promise<string[]> {
  await projectOf(ctx.db, project);
  return ctx.db.instances.names(project);
}

async function listExpanded(
  ctx: InstanceContext,
  project: string | undefined,
): Promise<ExpandedInstance[]> {
  if (project === undefined) return expandedListOf(ctx.db, undefined);
  // One project: its record once (for which profiles it uses), then its
  // instances and those profiles side by side.
  const record = await projectOf(ctx.db, project);
  return expandedInstancesOf(ctx.db, project, profileProjectOf(project, record.config));
}

export async function listInstances(
  ctx: InstanceContext,
  project: string | undefined,
  filter: string | undefined,
): Promise<Instance[]> {
  const expanded = await listExpanded(ctx, project);
  const out = await Promise.all(expanded.map((e) => toApi(ctx, e)));
  return filter ? filterObjects(out, filter) : out;
}

export async function listFullInstances(
  ctx: InstanceContext,
  project: string | undefined,
  filter: string | undefined,
): Promise<InstanceFull[]> {
  // One query for all instances and their profiles, one for which have
  // snapshots, one listing of backups; each then costs only its driver state.
  return fullList(ctx, await listExpanded(ctx, project), filter);
}

export async function getInstance(
  ctx: InstanceContext,
  project: string,
  name: string,
): Promise<Instance> {
  return toApi(ctx, await expandedOf(ctx.db, project, name));
}

export async function getFullInstance(
  ctx: InstanceContext,
  project: string,
  name: string,
): Promise<InstanceFull> {
  const [full] = await fullList(ctx, [await expandedOf(ctx.db, project, name)]);
  return full!;
}

export async function instanceState(
  ctx: InstanceContext,
  project: string,
  name: string,
  options: { disk?: boolean },
): Promise<InstanceState> {
  return stateOf(ctx, await expandedOf(ctx.db, project, name), options);
}

async function stateOf(
  ctx: InstanceContext,
  instance: ExpandedInstance,
  options: { disk?: boolean },
): Promise<InstanceState> {
  const state = ctx.drivers.has(instance.type)
    ? await ctx.drivers.get(instance.type).renderState(await viewOf(ctx, instance))
    : idleInstanceState('Stopped');
  const [rootName] = rootDiskOf(instance.expandedDevices) ?? [];
  // A driver that knows its root disk better than the volume's tree (a VM's overlay) has said it.
  if (rootName && options.disk !== false && state.disk[rootName] === undefined)
    state.disk[rootName] = { usage: await diskUsage(ctx, instance) };
  return state;
}

/**
 * Root volume usage; walking a tree costs milliseconds, so a figure is
 * reused for a few seconds (lists of many instances ask for all at once).
 */
async function diskUsage(ctx: InstanceContext, instance: ExpandedInstance): Promise<number> {
  const key = `${instance.record.project}/${instance.name}`;
  const cached = ctx.usage.get(key);
  if (cached && cached.at > Date.now() - 15_000) return cached.bytes;
  const bytes = await ctx.storage
    .volumeUsage(poolOf(instance), instance.record.project, instance.name, instance.type)
    .catch(() => 0);
  ctx.usage.set(key, { bytes, at: Date.now() });
  return bytes;
}

async function toApi(ctx: InstanceContext, instance: ExpandedInstance): Promise<Instance> {
  const r = instance.record;
  const status = await statusOf(ctx, instance);
  return {
    name: r.name,
    description: r.description,
    type: instance.type,
    architecture: r.architecture,
    status,
    status_code: StatusCode[status],
    config: r.config,
    devices: r.devices,
    profiles: r.profiles,
    ephemeral: r.ephemeral,
    stateful: r.stateful,
    created_at: r.createdAt.toISOString(),
    last_used_at: (r.lastUsedAt ?? new Date(0))
      .toISOString()
      .replace('1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00Z'),
    location: r.node,
    project: r.project,
    expanded_config: instance.expandedConfig,
    expanded_devices: instance.expandedDevices,
  };
}

async function fullList(
  ctx: InstanceContext,
  expanded: ExpandedInstance[],
  filter?: string,
): Promise<InstanceFull[]> {
  const companions = companionsOf(ctx, expanded);
  const full = await Promise.all(
    expanded.map(async (e): Promise<InstanceFull> => {
      const [instance, state] = await Promise.all([
        toApi(ctx, e),
        stateOf(ctx, e, { disk: false }),
      ]);
      return { ...instance, state, snapshots: [], backups: [] };
    }),
  );
  (await companions).forEach((c, i) => Object.assign(full[i]!, c));
  return filter ? filterObjects(full, filter) : full;
}

/**
 * Snapshots and backups of instances known to exist, in their order. Most
 * instances have neither: one query and one listing find the few that do.
 */
async function companionsOf(
  ctx: InstanceContext,
  expanded: readonly ExpandedInstance[],
): Promise<{ snapshots: InstanceSnapshot[]; backups: InstanceBackup[] }[]> {
  const [withSnapshots, backupLists] = await Promise.all([
    ctx.db.snapshots.instancesWithSnapshots(expanded.map((e) => e.record.id)),
    ctx.backupFiles.listMany(expanded.map((e) => ({ project: e.record.project, name: e.name }))),
  ]);
  return Promise.all(
    expanded.map(async (e, n) => ({
      snapshots: withSnapshots.has(e.record.id) ? await snapshotsOf(ctx, e) : [],
      backups: backupLists[n]!,
    })),
  );
}

async function snapshotsOf(
  ctx: InstanceContext,
  instance: ExpandedInstance,
): Promise<InstanceSnapshot[]> {
  const { record } = instance;
  const project = await ctx.db.projects.get(record.project);
  const profiles = await ctx.db.profiles.getMany(
    profileProjectOf(record.project, project?.config ?? {}),
    record.profiles,
  );
  const pool = poolOf(instance);
  return Promise.all(
    (await ctx.db.snapshots.list(record.id)).map(async (snapshot) => {
      // What the snapshot's copy takes on disk (LXD reports its volume's
      // usage). A snapshot never changes, so its tree is walked once: a
      // recursion=2 list of many snapshotted instances walked them all each time.
      const key = `snapshot/${snapshot.id}/${snapshot.createdAt.getTime()}`;
      let size = ctx.usage.get(key)?.bytes;
      if (size === undefined) {
        size = await ctx.storage
          .volumeUsage(pool, snapshot.project, snapshot.instance, instance.type, snapshot.name)
          .catch(() => -1);
        if (size >= 0) ctx.usage.set(key, { bytes: size, at: Date.now() });
      }
      return toInstanceSnapshot(snapshot, record, profiles, size);
    }),
  );
}
