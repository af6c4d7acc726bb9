// Image aliases: names in a project that point at one of its images
// (`/1.0/images/aliases`), each change announced as LXD does.
import { EngineError } from '../errors.ts';
import { ImageAliasName, type ImageAliasesEntry } from '../schemas/image.ts';
import type { InstanceType } from '../schemas/index.ts';
import {
  checkAliasesFree,
  imageRecord,
  requireProject,
  type ImageContext,
} from './image-context.ts';

export type AliasInput = string | { name: string; description?: string };

export function aliasUrl(project: string, name: string): string {
  const p = `/1.0/images/aliases/${encodeURIComponent(name)}`;
  return project === 'default' ? p : `${p}?project=${encodeURIComponent(project)}`;
}

/** Validated aliases with their descriptions; a name given twice is refused. */
export function normalizeAliases(
  aliases: AliasInput[] = [],
): { name: string; description: string }[] {
  const seen = new Set<string>();
  return aliases.map((a, i) => {
    const alias =
      typeof a === 'string'
        ? { name: a, description: '' }
        : { name: a.name, description: a.description ?? '' };
    const parsed = ImageAliasName.safeParse(alias.name);
    if (!parsed.success)
      throw EngineError.invalid(`aliases[${i}].name`, parsed.error.issues[0]?.message ?? 'invalid');
    if (seen.has(alias.name))
      throw EngineError.invalid(`aliases[${i}].name`, `"${alias.name}" is given twice`);
    seen.add(alias.name);
    return alias;
  });
}

export async function listAliases(
  ctx: ImageContext,
  project: string,
): Promise<ImageAliasesEntry[]> {
  return (await ctx.store.listAliases(project)).map((a) => ({
    name: a.name,
    description: a.description,
    target: a.fingerprint,
    type: a.type as InstanceType,
  }));
}

export async function getAlias(
  ctx: ImageContext,
  project: string,
  name: string,
): Promise<ImageAliasesEntry> {
  const alias = await ctx.store.getAlias(project, name);
  if (!alias) throw EngineError.notFound('Image alias', { field: 'name' });
  return {
    name: alias.name,
    description: alias.description,
    target: alias.fingerprint,
    type: alias.type as InstanceType,
  };
}

export async function createAlias(
  ctx: ImageContext,
  project: string,
  alias: { name: string; target: string; description?: string },
): Promise<ImageAliasesEntry> {
  const [normalized] = normalizeAliases([
    { name: alias.name, description: alias.description ?? '' },
  ]);
  const projectId = await requireProject(ctx, project);
  const record = await imageRecord(ctx, project, alias.target);
  await checkAliasesFree(ctx, project, [normalized as { name: string }]);
  await ctx.store.createAlias(
    projectId,
    record.id,
    normalized as { name: string; description: string },
  );
  ctx.events.lifecycle(project, 'image-alias-created', aliasUrl(project, alias.name), {
    target: record.fingerprint,
  });
  return getAlias(ctx, project, alias.name);
}

/** Points an alias at another image and/or changes its description. */
export async function updateAlias(
  ctx: ImageContext,
  project: string,
  name: string,
  change: { target?: string; description?: string },
): Promise<ImageAliasesEntry> {
  await getAlias(ctx, project, name);
  const record =
    change.target === undefined ? undefined : await imageRecord(ctx, project, change.target);
  await ctx.store.updateAlias(project, name, {
    ...(record ? { imageId: record.id } : {}),
    ...(change.description === undefined ? {} : { description: change.description }),
  });
  ctx.events.lifecycle(
    project,
    'image-alias-updated',
    aliasUrl(project, name),
    record ? { target: record.fingerprint } : undefined,
  );
  return getAlias(ctx, project, name);
}

export async function renameAlias(
  ctx: ImageContext,
  project: string,
  name: string,
  newName: string,
): Promise<ImageAliasesEntry> {
  await getAlias(ctx, project, name);
  normalizeAliases([newName]);
  await checkAliasesFree(ctx, project, [{ name: newName }]);
  await ctx.store.renameAlias(project, name, newName);
  ctx.events.lifecycle(project, 'image-alias-renamed', aliasUrl(project, newName), {
    old_name: name,
  });
  return getAlias(ctx, project, newName);
}

export async function deleteAlias(ctx: ImageContext, project: string, name: string): Promise<void> {
  if (!(await ctx.store.deleteAlias(project, name)))
    throw EngineError.notFound('Image alias', { field: 'name' });
  ctx.events.lifecycle(project, 'image-alias-deleted', aliasUrl(project, name));
}
