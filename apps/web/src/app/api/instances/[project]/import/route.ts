// Imports a backup tarball as a new instance: the upload streams straight
// into the engine (never held whole in memory). The import's operation shows
// its progress on the Operations page meanwhile; this answers when it ends.
//   POST ?name=new-name (optional)  body = the tarball
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { audited, authorizeRoute } from '~/server/route-auth.ts';

export const dynamic = 'force-dynamic';

type Params = { params: Promise<{ project: string }> };

export async function POST(req: Request, { params }: Params): Promise<Response> {
  const { project } = await params;
  // Importing creates an instance: the same right as creating one.
  const ctx = await authorizeRoute(req, project, 'config');
  if (ctx instanceof Response) return ctx;
  const body = req.body;
  if (!body) return Response.json({ error: 'The body must be a backup tarball' }, { status: 400 });
  const name = new URL(req.url).searchParams.get('name') || undefined;
  return audited(
    ctx,
    {
      action: 'backups.import',
      project,
      objectType: 'instance',
      objectName: name ?? '(from backup)',
    },
    async () => {
      const source = Readable.fromWeb(body as unknown as NodeReadableStream<Uint8Array>);
      const instance = await ctx.engine.backups.importAndWait(
        project,
        source,
        name ? { name } : {},
      );
      return Response.json({ name: instance.name });
    },
  );
}
