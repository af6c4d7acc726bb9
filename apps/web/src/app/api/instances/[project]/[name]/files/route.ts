// File contents in and out of an instance, byte for byte:
//   GET  ?path=/etc/hostname          the file (as an attachment)
//   POST ?path=/root/x  body = bytes  writes it (X-Berth-Mode: octal mode, optional)
// Listing, mkdir and delete are tRPC (files router); both ask the policy for `files`.
import { attachment, audited, authorizeRoute, errorResponse } from '~/server/route-auth.ts';

export const dynamic = 'force-dynamic';

type Params = { params: Promise<{ project: string; name: string }> };

/** Uploads are held in memory before they are written, so they are bounded. */
const maxUploadBytes = 512 * 1024 * 1024;

function pathOf(req: Request): string | Response {
  const p = new URL(req.url).searchParams.get('path') ?? '';
  if (!p.startsWith('/'))
    return Response.json({ error: 'path: must be an absolute path' }, { status: 400 });
  return p;
}

export async function GET(req: Request, { params }: Params): Promise<Response> {
  const { project, name } = await params;
  const ctx = await authorizeRoute(req, project, 'files');
  if (ctx instanceof Response) return ctx;
  const at = pathOf(req);
  if (at instanceof Response) return at;
  try {
    const pulled = await ctx.engine.instances.filePull(project, name, at);
    if (!pulled.content)
      return Response.json(
        { error: `path: ${at} is a ${pulled.entry.type}, not a file` },
        { status: 400 },
      );
    return new Response(new Uint8Array(pulled.content), {
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(pulled.content.length),
        'content-disposition': attachment(at.split('/').pop() || 'file'),
        'x-berth-mode': pulled.entry.mode.toString(8),
        'cache-control': 'no-store',
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
}

export async function POST(req: Request, { params }: Params): Promise<Response> {
  const { project, name } = await params;
  const ctx = await authorizeRoute(req, project, 'files');
  if (ctx instanceof Response) return ctx;
  const at = pathOf(req);
  if (at instanceof Response) return at;
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > maxUploadBytes)
    return Response.json(
      { error: `The file is larger than ${maxUploadBytes} bytes` },
      { status: 413 },
    );
  const modeHeader = req.headers.get('x-berth-mode');
  const mode = modeHeader ? Number.parseInt(modeHeader, 8) : undefined;
  if (mode !== undefined && !(mode >= 0 && mode <= 0o7777))
    return Response.json({ error: 'mode: must be an octal permission mode' }, { status: 400 });
  return audited(
    ctx,
    { action: 'files.upload', project, objectType: 'file', objectName: `${name}:${at}` },
    async () => {
      const content = Buffer.from(await req.arrayBuffer());
      if (content.length > maxUploadBytes)
        return Response.json(
          { error: `The file is larger than ${maxUploadBytes} bytes` },
          { status: 413 },
        );
      await ctx.engine.instances.filePush(project, name, at, {
        type: 'file',
        content,
        ...(mode !== undefined ? { mode } : {}),
      });
      return Response.json({ path: at, size: content.length });
    },
  );
}
