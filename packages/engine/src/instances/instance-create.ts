// Creating an instance (empty, from an image, or a copy): the request is
// checked and the record written at once; the volume and the driver's work
// run as an operation that undoes itself on failure.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { EngineError, isEngineError } from '../errors.ts';
import { apiUrl } from '../api-url.ts';
import { InstancesPost, type Instance, type Operation } from '../schemas/index.ts';
import { parseInput } from '../parse-input.ts';
import { randomInstanceName, validInstanceName } from '../validation/index.ts';
import { Reverter } from '../reverter.ts';
import { validateExpanded, validateLocal } from '../projects/validate-instance.ts';
import { copiedConfig, copiedDevices, withoutEchoedVolatile } from './instance-copy.ts';
import {
  expandedOf,
  poolOf,
  projectOf,
  resolveProfiles,
  viewOf,
  type InstanceContext,
} from './instance-context.ts';
import {
  assignHwaddrs,
  checkDiskVolumes,
  checkLimits,
  checkNetworks,
  shapeOf,
} from './instance-checks.ts';
import {
  checkCopiedSnapshots,
  copiedSnapshots,
  copySource,
  startCopy,
} from './instance-create-copy.ts';
import { changeStateAndWait } from './instance-lifecycle.ts';
import { getInstance } from './instance-queries.ts';
import { storeTemplateSet } from '../templates/template-apply.ts';
import { APPLY_TEMPLATE_KEY } from '../templates/template-start.ts';

/** `volatile.last_state.power` of an instance whose create operation has not finished. */
export const CREATING_POWER = 'CREATING';

const hostArchitecture: string =
  (
    {
      x64: 'x86_64',
      arm64: 'aarch64',
      arm: 'armv7l',
      ppc64: 'ppc64le',
      s390x: 's390x',
      riscv64: 'riscv64',
    } as Record<string, string>
  )[os.arch()] ?? os.arch();

/**
 * Creates an instance. Input is checked at once (a bad name or key fails
 * here, with nothing written); the driver's work runs as an operation.
 * `failed` is told the work's own error (the operation keeps only its message).
 */
export async function createInstance(
  ctx: InstanceContext,
  project: string,
  input: InstancesPost,
  failed: (error: unknown) => void = () => {},
): Promise<{ instance: Instance; operation: Operation }> {
  const req = parseInput(InstancesPost, input);
  if (req.source.type === 'backup') {
    throw new EngineError(
      'NOT_IMPLEMENTED',
      `source.type: creating from "${req.source.type}" is not available yet`,
      { field: 'source.type' },
    );
  }
  if (req.name) validInstanceName(req.name);
  const copy =
    req.source.type === 'copy' ? await copySource(ctx, project, req.source, input.type) : undefined;
  const type = copy?.instance.type ?? req.type;
  if (copy) req.config = withoutEchoedVolatile(req.config, copy.config);
  validateLocal(type, req.config, req.devices);
  const image =
    req.source.type === 'image' ? await sourceImage(ctx, project, req.source) : undefined;
  if (image && image.type !== type) {
    // LXD's words; here before anything is written rather than in the operation.
    throw EngineError.invalid(
      'type',
      `Requested image's type "${image.type}" doesn't match instance type "${type}"`,
    );
  }
  const devices = copy ? copiedDevices(copy.devices, req.devices) : req.devices;

  const created = await ctx.db.transaction(async (tx) => {
    const projectRecord = await projectOf(tx, project);
    const name = req.name || randomInstanceName(await tx.instances.names(project));
    if (await tx.instances.get(project, name)) {
      throw new EngineError('ALREADY_EXISTS', `Instance "${name}" already exists`, {
        field: 'name',
      });
    }
    const profileNames = req.profiles ?? copy?.instance.record.profiles ?? ['default'];
    const profileRecords = await resolveProfiles(tx, project, profileNames);
    const config: Record<string, string> = {
      // As LXD: the image's properties are kept as image.* keys.
      ...Object.fromEntries(
        Object.entries(image?.properties ?? {}).map(([k, v]) => [`image.${k}`, v]),
      ),
      ...(copy ? copiedConfig(copy.config, req.config) : req.config),
      'volatile.uuid': randomUUID(),
      // Until the work is done: an engine that starts and finds it (the one that ran the
      // operation died) removes the half-made instance (instance-host-events.ts reconcile).
      'volatile.last_state.power': CREATING_POWER,
      ...(image ? { 'volatile.base_image': image.fingerprint } : {}),
      // As LXD: the image's templates for this trigger apply at the first start.
      [APPLY_TEMPLATE_KEY]: copy ? 'copy' : 'create',
    };
    const shape = shapeOf(name, type, config, devices, profileRecords);
    await assignHwaddrs(tx, shape);
    await validateExpanded(shape, projectRecord.config);
    if (copy) {
      await checkCopiedSnapshots(
        name,
        type,
        await copiedSnapshots(ctx, copy),
        profileRecords,
        projectRecord.config,
      );
    }
    await checkNetworks(ctx, shape);
    await checkDiskVolumes(ctx, project, shape);
    await checkLimits(tx, projectRecord.config, project, {
      name,
      type,
      expandedConfig: shape.expandedConfig,
    });
    return tx.instances.create(projectRecord.id, {
      name,
      type,
      architecture:
        copy?.instance.record.architecture ??
        req.architecture ??
        image?.architecture ??
        hostArchitecture,
      ephemeral: req.ephemeral,
      description: req.description,
      config: shape.localConfig,
      devices,
      profileIds: profileRecords.map((p) => p.id),
    });
  });

  if (copy) return startCopy(ctx, project, created, copy, req.start, failed);
  const name = created.name;
  const url = apiUrl.instance(project, name);
  const instance = await getInstance(ctx, project, name);
  ctx.events.lifecycle(project, 'instance-created', url);
  const operation = await ctx.operations.start({
    project,
    description: 'Creating instance',
    resources: { instances: [url] },
    run: (op) =>
      ctx.locks
        .with(project, name, 'create', async () => {
          const expanded = await expandedOf(ctx.db, project, name);
          const pool = poolOf(expanded);
          await Reverter.run(async (revert) => {
            revert.add(async () => {
              await ctx.db.instances.delete(created.id);
              ctx.events.lifecycle(project, 'instance-deleted', url);
            });
            await op.progress(10, 'Unpacking image');
            const driver = ctx.drivers.has(expanded.type)
              ? ctx.drivers.get(expanded.type)
              : undefined;
            const view = await viewOf(ctx, expanded);
            // The image as the driver wants it (shifted), from the image cache.
            const preparation = image && driver ? driver.imagePreparation(view) : null;
            const prepared =
              image && preparation
                ? await ctx.images.preparedRootfs(image.fingerprint, preparation)
                : undefined;
            const fromRootfs = prepared
              ? prepared.rootfs
              : image
                ? await ctx.images.rootfsPath(image.fingerprint)
                : undefined;
            await op.progress(40, 'Creating storage volume');
            const volume = await ctx.storage.createInstanceVolume(
              pool,
              project,
              name,
              expanded.type,
              {
                ...(fromRootfs ? { fromRootfs } : {}),
                plainCopy: prepared?.plainCopy ?? false,
                signal: op.signal,
              },
            );
            revert.add(() => ctx.storage.deleteInstanceVolume(pool, project, name, expanded.type));
            // The image's templates travel with the instance (copies, snapshots, renames).
            if (image) await storeTemplateSet(ctx.images.files, image.fingerprint, volume.dir);
            if (driver) {
              await op.progress(80, 'Preparing instance');
              await driver.create(
                view,
                prepared && preparation ? { prepared: preparation.prepared } : {},
              );
              revert.add(() => driver.delete(view));
            }
            await ctx.db.instances.setConfigKeys(created.id, {
              'volatile.last_state.power': 'STOPPED',
            });
          });
        })
        .then(async () => {
          if (req.start) await changeStateAndWait(ctx, project, name, { action: 'start' });
        })
        .catch((error: unknown) => {
          failed(error);
          throw error;
        }),
  });
  return { instance, operation };
}

/**
 * Creates an instance and waits until it exists (and runs, with `start`).
 * A failure is the work's own EngineError, code and field kept (a driver's
 * INVALID_ARGUMENT stays one), as the operation's `err` keeps its message.
 */
export async function createInstanceAndWait(
  ctx: InstanceContext,
  project: string,
  input: InstancesPost,
): Promise<Instance> {
  let failure: unknown;
  const { instance, operation } = await createInstance(ctx, project, input, (error) => {
    failure = error;
  });
  const done = await ctx.operations.wait(operation.id);
  if (done.status !== 'Success') {
    if (isEngineError(failure)) throw failure;
    throw new EngineError('INTERNAL', `Creating instance "${instance.name}" failed: ${done.err}`);
  }
  return getInstance(ctx, project, instance.name);
}

async function sourceImage(
  ctx: InstanceContext,
  project: string,
  source: { alias?: string | undefined; fingerprint?: string | undefined },
) {
  if (source.fingerprint) {
    return ctx.images.get(project, source.fingerprint).catch((error: unknown) => {
      throw isEngineError(error, 'NOT_FOUND')
        ? new EngineError(
            'NOT_FOUND',
            `source.fingerprint: image "${source.fingerprint}" not found`,
            { field: 'source.fingerprint' },
          )
        : error;
    });
  }
  if (!source.alias)
    throw EngineError.invalid('source', 'an image source needs an alias or a fingerprint');
  const fingerprint = await ctx.images
    .resolveAlias(project, source.alias)
    .catch((error: unknown) => {
      throw isEngineError(error, 'NOT_FOUND')
        ? new EngineError('NOT_FOUND', `source.alias: image alias "${source.alias}" not found`, {
            field: 'source.alias',
          })
        : error;
    });
  return ctx.images.get(project, fingerprint);
}
