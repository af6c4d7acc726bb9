// Inside an instance: exec (record-output), files, console log, exec logs.
import { createReadStream } from 'node:fs';
import { apiUrl, EngineError, type Operation, type PreparedExec } from '@berth/engine';
import { ExecPost } from '@berth/engine/schemas';
import { z } from 'zod';
import type { RestContext } from '../context.ts';
import { asyncOp, emptySync, RestError, sync } from '../envelope.ts';
import { fileBodyLimit } from '../body.ts';
import { ExecOutputStore } from '../exec-output.ts';
import { ConsoleSession } from '../console-session.ts';
import { ExecSession } from '../exec-session.ts';
import { withSecrets } from '../operation-sockets.ts';
import { principalOf } from '../principal.ts';
import type { Router } from '../router.ts';

type P = Record<string, string>;

/** LXD's InstanceExecPost: the engine's ExecPost plus the transport fields. */
const RestExecPost = ExecPost.extend({
  cwd: z.string().optional(),
  'wait-for-websocket': z.boolean().default(false),
  'record-output': z.boolean().default(false),
  interactive: z.boolean().default(false),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
});

const execResources = (project: string, name: string) => ({
  containers: [`/1.0/containers/${encodeURIComponent(name)}`],
  instances: [apiUrl.instance(project, name)],
});

/**
 * LXD's exec with `wait-for-websocket`: a websocket operation whose
 * channels' secrets (and environment) only its creator sees, in this
 * answer (where `lxc exec` reads them) and in GET /1.0/operations/<id>;
 * the command starts once the client has connected them (exec-session.ts),
 * and the operation ends with it.
 */
async function execOverWebsockets(
  ctx: RestContext,
  name: string,
  body: z.output<typeof RestExecPost>,
  prepared: PreparedExec,
): Promise<Operation> {
  const project = ctx.project;
  const owner = principalOf(ctx.requireUser());
  const session = new ExecSession(project, {
    command: body.command,
    environment: body.environment,
    interactive: body.interactive,
  });
  const size =
    body.width && body.height && body.width > 0 && body.height > 0
      ? { cols: body.width, rows: body.height }
      : { cols: 80, rows: 24 };
  const started = await ctx.engine.operations.start({
    project,
    description: 'Executing command',
    class: 'websocket',
    resources: execResources(project, name),
    metadata: session.metadata(),
    run: async (op) => {
      // Registered before the operation is answered, so the client can connect at once.
      const unregister = ctx.services.sockets.register(op.id, session, owner);
      try {
        return await session.run(() => prepared.start(body.interactive ? size : undefined));
      } finally {
        unregister();
      }
    },
  });
  return withSecrets(started, session.secretMetadata());
}

/** LXD's InstanceConsolePost. */
const ConsolePost = z.object({
  width: z.number().int().min(0).max(10_000).default(0),
  height: z.number().int().min(0).max(10_000).default(0),
  type: z.enum(['console', 'vga']).or(z.literal('')).default('console'),
});

/** X-LXD-* headers of a file push (LXD's instanceFilePost). */
const FilePushHeaders = z.object({
  type: z.enum(['file', 'directory', 'symlink']).default('file'),
  write: z.enum(['overwrite', 'append']).default('overwrite'),
  mode: z
    .string()
    .regex(/^0?[0-7]{1,4}$/, 'must be an octal mode such as 0644')
    .optional(),
  uid: z
    .string()
    .regex(/^-?\d+$/, 'must be a number')
    .optional(),
  gid: z
    .string()
    .regex(/^-?\d+$/, 'must be a number')
    .optional(),
});

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function pathParam(ctx: RestContext): string {
  const path = ctx.url.searchParams.get('path');
  if (!path) throw RestError.badRequest('Missing path argument');
  // `lxc file pull c1/etc/hosts` asks for `etc/hosts`: LXD reads it from `/`.
  return path.startsWith('/') ? path : `/${path}`;
}

export function registerInstanceIo(router: Router<RestContext>, store: ExecOutputStore): void {
  router.add('POST', '/1.0/instances/:name/exec', async (ctx, p: P) => {
    ctx.allow('exec');
    const name = p.name!;
    const project = ctx.project;
    const body = await ctx.body(RestExecPost);
    // Checked and found running before an operation exists, as LXD refuses it; looked up once.
    const prepared = await ctx.engine.instances.prepareExec(project, name, {
      command: body.command,
      environment: body.environment,
      timeout: body.timeout,
      ...(body.cwd ? { cwd: body.cwd } : {}),
      ...(body.user !== undefined ? { user: body.user } : {}),
      ...(body.group !== undefined ? { group: body.group } : {}),
    });
    if (body['wait-for-websocket'])
      return asyncOp(await execOverWebsockets(ctx, name, body, prepared));
    const op = await ctx.engine.operations.start({
      project,
      description: 'Executing command',
      resources: execResources(project, name),
      run: async (opCtx) => {
        const result = await prepared.record();
        if (!body['record-output']) return { return: result.exitCode };
        const files = await store.record(project, name, opCtx.id, result);
        return {
          return: result.exitCode,
          output: {
            '1': apiUrl.instanceLog(project, name, files.stdout),
            '2': apiUrl.instanceLog(project, name, files.stderr),
          },
        };
      },
    });
    return asyncOp(op);
  });

  // Recorded output: LXD 5.0's /logs/<file> and the later /logs/exec-output/<file>.
  for (const prefix of ['logs', 'logs/exec-output']) {
    router
      .add('GET', `/1.0/instances/:name/${prefix}`, async (ctx, p: P) => {
        ctx.allow('exec');
        await ctx.engine.instances.get(ctx.project, p.name!);
        const files = await store.list(ctx.project, p.name!);
        return sync(files.map((f) => apiUrl.instanceLog(ctx.project, p.name!, f, prefix)));
      })
      .add('GET', `/1.0/instances/:name/${prefix}/:file`, async (ctx, p: P) => {
        ctx.allow('exec');
        await ctx.engine.instances.get(ctx.project, p.name!);
        const file = await store.path(ctx.project, p.name!, p.file!);
        return {
          kind: 'raw',
          status: 200,
          headers: { 'Content-Type': 'application/octet-stream' },
          body: createReadStream(file),
        };
      })
      .add('DELETE', `/1.0/instances/:name/${prefix}/:file`, async (ctx, p: P) => {
        ctx.allow('exec');
        await ctx.engine.instances.get(ctx.project, p.name!);
        await store.remove(ctx.project, p.name!, p.file!);
        return emptySync();
      });
  }

  router
    .add('GET', '/1.0/instances/:name/files', async (ctx, p: P) => {
      ctx.allow('files');
      const pulled = await ctx.engine.instances.filePull(ctx.project, p.name!, pathParam(ctx));
      const { entry } = pulled;
      const headers = {
        'X-LXD-uid': String(entry.uid),
        'X-LXD-gid': String(entry.gid),
        'X-LXD-mode': octal(entry.mode),
        'X-LXD-type': entry.type,
      };
      if (entry.type === 'directory') return sync(pulled.entries ?? [], headers);
      const content =
        entry.type === 'symlink'
          ? Buffer.from(entry.target ?? '')
          : (pulled.content ?? Buffer.alloc(0));
      return {
        kind: 'raw',
        status: 200,
        headers: { ...headers, 'Content-Type': 'application/octet-stream' },
        body: content,
      };
    })
    .add('POST', '/1.0/instances/:name/files', async (ctx, p: P) => {
      ctx.allow('files');
      const name = p.name!;
      const path = pathParam(ctx);
      const headers = validateHeaders(ctx);
      const raw = await ctx.rawBody(fileBodyLimit);
      const owner = {
        ...(headers.mode !== undefined ? { mode: parseInt(headers.mode, 8) } : {}),
        ...(headers.uid !== undefined && Number(headers.uid) >= 0
          ? { uid: Number(headers.uid) }
          : {}),
        ...(headers.gid !== undefined && Number(headers.gid) >= 0
          ? { gid: Number(headers.gid) }
          : {}),
      };
      if (headers.type === 'directory') {
        await ctx.engine.instances.filePush(ctx.project, name, path, {
          type: 'directory',
          ...owner,
        });
      } else if (headers.type === 'symlink') {
        await ctx.engine.instances.filePush(ctx.project, name, path, {
          type: 'symlink',
          target: raw.toString('utf8'),
          ...owner,
        });
      } else {
        let content = raw;
        if (headers.write === 'append') {
          const existing = await ctx.engine.instances
            .filePull(ctx.project, name, path)
            .catch(() => undefined);
          if (existing?.content) content = Buffer.concat([existing.content, raw]);
        }
        await ctx.engine.instances.filePush(ctx.project, name, path, {
          type: 'file',
          content,
          ...owner,
        });
      }
      return emptySync();
    })
    .add('DELETE', '/1.0/instances/:name/files', async (ctx, p: P) => {
      ctx.allow('files');
      await ctx.engine.instances.fileRemove(ctx.project, p.name!, pathParam(ctx));
      return emptySync();
    })
    .add('POST', '/1.0/instances/:name/console', async (ctx, p: P) => {
      ctx.allow('console');
      const name = p.name!;
      const project = ctx.project;
      const body = await ctx.body(ConsolePost);
      if (body.type === 'vga') {
        const { type } = await ctx.engine.instances.get(project, name);
        if (type !== 'virtual-machine')
          throw RestError.badRequest('VGA consoles are only available for virtual machines');
        // LXD speaks SPICE here, for remote-viewer; Berth's screen is VNC, in the web console.
        throw new EngineError(
          'NOT_IMPLEMENTED',
          "A VM's VGA console is served as VNC to the web console (Graphical console tab), not as LXD's SPICE over this API",
          { field: 'type' },
        );
      }
      await ctx.engine.instances.requireRunning(project, name);
      const size =
        body.width > 0 && body.height > 0
          ? { cols: body.width, rows: body.height }
          : { cols: 80, rows: 24 };
      const owner = principalOf(ctx.requireUser());
      const session = new ConsoleSession(project);
      const op = await ctx.engine.operations.start({
        project,
        description: 'Showing console',
        class: 'websocket',
        resources: execResources(project, name),
        metadata: {},
        run: async (opCtx) => {
          const unregister = ctx.services.sockets.register(opCtx.id, session, owner);
          try {
            await session.run(() => ctx.engine.instances.console(project, name, size));
          } finally {
            unregister();
          }
        },
      });
      // Only the creator is told the secrets (operation-sockets.ts).
      return asyncOp(withSecrets(op, session.secretMetadata()));
    })
    .add('GET', '/1.0/instances/:name/console', async (ctx, p: P) => {
      ctx.allow('console');
      const type = ctx.url.searchParams.get('type') ?? 'log';
      if (type !== 'log')
        throw RestError.badRequest(
          `Unsupported console type "${type}" (only "log" is served here)`,
        );
      const log = await ctx.engine.instances.consoleLog(ctx.project, p.name!);
      return {
        kind: 'raw',
        status: 200,
        headers: { 'Content-Type': 'application/octet-stream' },
        body: log,
      };
    });
}

function validateHeaders(ctx: RestContext) {
  const picked: Record<string, string> = {};
  for (const key of ['type', 'write', 'mode', 'uid', 'gid']) {
    const value = ctx.header(`x-lxd-${key}`);
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const result = FilePushHeaders.safeParse(picked);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw RestError.badRequest(
    `Invalid header X-LXD-${String(issue?.path[0] ?? '')}: ${issue?.message ?? 'invalid value'}`,
  );
}
