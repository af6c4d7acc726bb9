// Downloads a backup tarball, streamed from disk (they can be large).
import { Readable } from 'node:stream';
import { attachment, authorizeRoute, errorResponse } from '~/server/route-auth.ts';

export const dynamic = 'force-dynamic';

type Params = { params: Promise<{ project: string; name: string; backup: string }> };

export async function GET(req: Request, { params }: Params): Promise<Response> {
  const { project, name, backup } = await params;
  const ctx = await authorizeRoute(req, project, 'snapshots');
  if (ctx instanceof Response) return ctx;
  try {
    const size = await ctx.engine.backups.size(project, name, backup);
    const stream = await ctx.engine.backups.open(project, name, backup);
    return new Response(Readable.toWeb(stream) as ReadableStream<Uint8Array>, {
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(size),
        'content-disposition': attachment(`${name}-${backup}.tar.gz`),
        'cache-control': 'no-store',
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
}
