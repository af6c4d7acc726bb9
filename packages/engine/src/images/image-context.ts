// What every part of the image service shares (import, builds, the rootfs
// cache, aliases): the store, the files, the bus, one lock per fingerprint
// and the work directory, plus the lookups all parts use.
import { access } from 'node:fs/promises';
import type { ImageRecord, ImageStore } from '@berth/db';
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { KeyedLock } from '../keyed-lock.ts';
import type { StartOperation } from '../operations/operations.ts';
import type { Operation } from '../schemas/index.ts';
import type { ImageFiles } from './image-files.ts';

export interface OperationsLike {
  start(spec: StartOperation): Promise<Operation>;
}

export interface ImageContext {
  readonly files: ImageFiles;
  readonly store: ImageStore;
  readonly events: EventBus;
  readonly operations: OperationsLike;
  /** One image's files change under its fingerprint's lock. */
  readonly locks: KeyedLock;
  /** The static busybox the built-in builder copies. */
  readonly busybox: string;
  /** A work directory in the image directory; the first call sweeps leftovers of a previous process. */
  tempDir(): Promise<string>;
}

export const FINGERPRINT = /^[0-9a-f]{64}$/;

export async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** By full fingerprint or a unique prefix of one, like LXD. */
export async function imageRecord(
  ctx: ImageContext,
  project: string,
  fingerprintOrPrefix: string,
): Promise<ImageRecord> {
  const prefix = fingerprintOrPrefix.toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(prefix))
    throw EngineError.notFound('Image', { field: 'fingerprint' });
  if (prefix.length === 64) {
    const record = await ctx.store.get(project, prefix);
    if (!record) throw EngineError.notFound('Image', { field: 'fingerprint' });
    return record;
  }
  const matches = await ctx.store.findByPrefix(project, prefix, 2);
  if (matches.length > 1)
    throw EngineError.invalid('fingerprint', `more than one image matches "${prefix}"`);
  const [record] = matches;
  if (!record) throw EngineError.notFound('Image', { field: 'fingerprint' });
  return record;
}

export async function requireProject(ctx: ImageContext, project: string): Promise<number> {
  const id = await ctx.store.projectId(project);
  if (id === null) throw EngineError.notFound('Project', { field: 'project' });
  return id;
}

export async function checkAliasesFree(
  ctx: ImageContext,
  project: string,
  aliases: { name: string }[],
): Promise<void> {
  for (const alias of aliases) {
    if (await ctx.store.getAlias(project, alias.name)) {
      throw new EngineError('ALREADY_EXISTS', `Image alias "${alias.name}" already exists`, {
        field: 'aliases',
      });
    }
  }
}
