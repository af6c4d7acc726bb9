// /1.0/instances, /1.0/instances/<name> and /<name>/state.
import { apiUrl, type Operation } from '@berth/engine';
import {
  InstancePatch,
  InstancePut,
  InstancesPost,
  InstanceStatePut,
  RenamePost,
} from '@berth/engine/schemas';
import { z } from 'zod';
import { codedErrorOf } from '../../server/error-codes.ts';
import type { RestContext } from '../context.ts';
import { asyncOp, emptySync, RestError, sync } from '../envelope.ts';
import { validate, withoutGoZeroValues } from '../body.ts';
import type { Router } from '../router.ts';
import { importUpload } from '../uploads.ts';

type P = Record<string, string>;

const InstancePost = RenamePost.extend({
  migration: z.boolean().default(false),
  live: z.boolean().default(false),
});

/** PUT /1.0/instances/<name> with `restore` is LXD's way to restore a snapshot. */
const RestoreBody = z.object({ restore: z.string().min(1), stateful: z.boolean().optional() });

/**
 * `lxc config set` PUTs the whole instance back, `volatile.*` keys included
 * as it read them. Those the engine owns are dropped when unchanged (it
 * keeps its own); a changed one stays, so the engine refuses it by name.
 */
export function withoutEchoedVolatile(
  config: Record<string, string>,
  current: Readonly<Record<string, string>>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).filter(([k, v]) => !(k.startsWith('volatile.') && current[k] === v)),
  );
}

/** `lxc restore c1 snap0` sends `c1/snap0`; LXD takes both that and the bare name. */
export function snapshotOf(instance: string, restore: string): string {
  const slash = restore.indexOf('/');
  if (slash < 0) return restore;
  if (restore.slice(0, slash) !== instance)
    throw RestError.badRequest(`Snapshot "${restore}" is not a snapshot of instance "${instance}"`);
  return restore.slice(slash + 1);
}

/**
 * LXD 5.0 refuses a delete or rename of a running instance with 400 before
 * any operation exists, where the engine's refusal is CONFLICT: mapped here,
 * for these two answers only.
 */
async function refusedAsLxdDoes(started: Promise<Operation>): Promise<Operation> {
  try {
    return await started;
  } catch (error) {
    const coded = codedErrorOf(error);
    if (coded?.code === 'CONFLICT') throw RestError.badRequest(coded.message);
    throw error;
  }
}

async function listInstances(ctx: RestContext) {
  const { recursion, filter, allProjects } = ctx.query;
  const opts = filter ? { filter } : {};
  if (allProjects) {
    const visible = new Set(await ctx.visibleProjects());
    const keep = <T extends { project: string }>(list: T[]) =>
      list.filter((i) => visible.has(i.project));
    if (recursion === 2) return sync(keep(await ctx.engine.instances.listFull(undefined, opts)));
    const list = keep(await ctx.engine.instances.list(undefined, opts));
    return sync(recursion === 1 ? list : list.map((i) => apiUrl.instance(i.project, i.name)));
  }
  ctx.allow('read');
  const project = ctx.project;
  if (recursion === 2) return sync(await ctx.engine.instances.listFull(project, opts));
  if (recursion === 1) return sync(await ctx.engine.instances.list(project, opts));
  const names = filter
    ? (await ctx.engine.instances.list(project, opts)).map((i) => i.name)
    : await ctx.engine.instances.names(project);
  return sync(names.map((n) => apiUrl.instance(project, n)));
}

/**
 * `lxc import`: POST /1.0/instances with a backup tarball as the body
 * (X-LXD-name, X-LXD-pool), restored by the engine as an operation. The
 * upload is on disk before the operation starts, as LXD does it.
 */
async function importBackup(ctx: RestContext) {
  const project = ctx.project;
  await ctx.engine.projects.get(project);
  return importUpload(ctx, 'backup', (file) => {
    const name = ctx.header('x-lxd-name');
    const pool = ctx.header('x-lxd-pool');
    return ctx.engine.backups.import(project, file, {
      ...(name ? { name } : {}),
      ...(pool ? { pool } : {}),
    });
  });
}

export function registerInstances(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0/instances', (ctx) => listInstances(ctx))
    .add('POST', '/1.0/instances', async (ctx) => {
      ctx.allow('config');
      const type = (ctx.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (type === 'application/octet-stream') return importBackup(ctx);
      const body = validate(InstancesPost, withoutGoZeroValues(await ctx.json()));
      // A copy from another project reads that project: the caller must be allowed to.
      if (body.source?.type === 'copy' && body.source.project)
        ctx.allow('read', body.source.project);
      const { operation } = await ctx.engine.instances.create(ctx.project, body);
      return asyncOp(operation);
    })
    .add('GET', '/1.0/instances/:name', async (ctx, p: P) => {
      ctx.allow('read');
      const name = p.name!;
      return sync(
        // LXD's instance_get_full: any recursion gives state, snapshots and backups.
        ctx.query.recursion > 0
          ? await ctx.engine.instances.getFull(ctx.project, name)
          : await ctx.engine.instances.get(ctx.project, name),
      );
    })
    .add('PUT', '/1.0/instances/:name', async (ctx, p: P) => {
      const name = p.name!;
      const json = withoutGoZeroValues(await ctx.json());
      if (json && typeof json === 'object' && 'restore' in json) {
        ctx.allow('snapshots');
        const { restore, stateful } = validate(RestoreBody, json);
        return asyncOp(
          await ctx.engine.snapshots.restore(ctx.project, name, snapshotOf(name, restore), {
            ...(stateful === undefined ? {} : { stateful }),
          }),
        );
      }
      ctx.allow('config');
      const body = validate(InstancePut, json);
      const current = await ctx.engine.instances.get(ctx.project, name);
      body.config = withoutEchoedVolatile(body.config, current.config);
      return asyncOp(await ctx.engine.instances.startUpdate(ctx.project, name, body));
    })
    .add('PATCH', '/1.0/instances/:name', async (ctx, p: P) => {
      ctx.allow('config');
      const body = await ctx.body(InstancePatch);
      await ctx.engine.instances.patch(ctx.project, p.name!, body);
      return emptySync();
    })
    .add('DELETE', '/1.0/instances/:name', async (ctx, p: P) => {
      ctx.allow('delete');
      return asyncOp(
        await refusedAsLxdDoes(ctx.engine.instances.startDelete(ctx.project, p.name!)),
      );
    })
    .add('POST', '/1.0/instances/:name', async (ctx, p: P) => {
      ctx.allow('config');
      const body = await ctx.body(InstancePost);
      if (body.migration) throw new RestError(501, 'Migration is not supported by Berth yet');
      return asyncOp(
        await refusedAsLxdDoes(ctx.engine.instances.startRename(ctx.project, p.name!, body.name)),
      );
    })
    .add('GET', '/1.0/instances/:name/state', async (ctx, p: P) => {
      ctx.allow('read');
      return sync(await ctx.engine.instances.state(ctx.project, p.name!));
    })
    .add('PUT', '/1.0/instances/:name/state', async (ctx, p: P) => {
      ctx.allow('lifecycle');
      const body = await ctx.body(InstanceStatePut);
      return asyncOp(await ctx.engine.instances.changeState(ctx.project, p.name!, body));
    });
}
