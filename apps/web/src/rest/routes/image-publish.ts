// `POST /1.0/images` with a JSON body whose source is an instance or a
// snapshot: `lxc publish c1[/snap0] [--alias x]`, as LXD's imgPostInstanceInfo
// takes it. The engine publishes (a container stopped, a VM also running,
// held still for the copy) as an operation ending with {fingerprint, size};
// the client then makes its aliases itself. Sources of other kinds (another
// server, a URL) are not served.
import { z } from 'zod';
import type { Operation } from '@berth/engine';
import type { RestContext } from '../context.ts';
import { RestError } from '../envelope.ts';

const ImagesPostFromInstance = z.object({
  source: z.object({
    type: z.enum(['instance', 'container', 'virtual-machine', 'snapshot', 'image', 'url']),
    name: z.string().default(''),
    project: z.string().optional(),
  }),
  public: z.boolean().default(false),
  properties: z.record(z.string(), z.string()).nullish(),
  aliases: z
    .array(z.object({ name: z.string().min(1), description: z.string().optional() }))
    .nullish(),
  filename: z.string().optional(),
  // Only what publish makes: the tarball is gzip'd. Never handed to a shell either way.
  compression_algorithm: z
    .enum(['', 'gzip'], { message: 'Berth publishes gzip tarballs: "gzip" or empty' })
    .optional(),
});

export async function publishFromBody(ctx: RestContext): Promise<Operation> {
  const body = await ctx.body(ImagesPostFromInstance);
  const { source } = body;
  if (source.type === 'image' || source.type === 'url')
    throw new RestError(
      501,
      `source.type: copying images from another server ("${source.type}") is not available; import a tarball (lxc image import)`,
    );
  // A source in another project is read there: the caller must be allowed to.
  const project = source.project || ctx.project;
  if (project !== ctx.project) ctx.allow('read', project);
  const [name, snapshot, extra] = source.name.split('/');
  if (!name || extra !== undefined || (source.type === 'snapshot') !== (snapshot !== undefined))
    throw RestError.badRequest(
      `source.name: "${source.name}" must be an instance name${source.type === 'snapshot' ? ' and a snapshot, as "c1/snap0"' : ''}`,
    );
  const aliases = body.aliases ?? [];
  if (aliases.length > 1)
    throw RestError.badRequest(
      'aliases: one alias per publish here; add more with lxc image alias create',
    );
  return ctx.engine.backups.publish(project, name, {
    ...(snapshot ? { snapshot } : {}),
    ...(aliases[0] ? { alias: aliases[0].name } : {}),
    ...(body.properties ? { properties: body.properties } : {}),
    public: body.public,
  });
}
