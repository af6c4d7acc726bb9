// Image files over REST, as `lxc image import` and `lxc image export` move them:
//
//   POST /1.0/images            a unified tarball as the raw body
//                               (Content-Type application/octet-stream; X-LXD-filename,
//                               X-LXD-public, X-LXD-properties headers), imported by the
//                               engine as an operation ending with {fingerprint, size}
//   GET  /1.0/images/<fp>/export the unified tarball, named in Content-Disposition
//
//   POST /1.0/images            a JSON body with an instance or snapshot source: publish
//                               (image-publish.ts)
//
// Split images (multipart: metadata + rootfs) and copies from other servers
// are not supported.
import path from 'node:path';
import type { RestContext } from '../context.ts';
import { asyncOp, RestError } from '../envelope.ts';
import { publishFromBody } from './image-publish.ts';
import type { Router } from '../router.ts';
import { importUpload } from '../uploads.ts';

type P = Record<string, string>;

/** The import options LXD's client sends as headers with an upload. */
export function uploadOptions(header: (name: string) => string | undefined): {
  public: boolean;
  filename?: string;
  properties?: Record<string, string>;
} {
  const filename = header('x-lxd-filename');
  // LXD keeps only the base name of what the client calls its file.
  const base = filename ? path.posix.basename(filename.replaceAll('\\', '/')) : '';
  const rawProperties = header('x-lxd-properties');
  const properties = rawProperties
    ? Object.fromEntries(new URLSearchParams(rawProperties).entries())
    : undefined;
  return {
    public: header('x-lxd-public') === 'true',
    ...(base && base !== '.' && base !== '..' ? { filename: base } : {}),
    ...(properties && Object.keys(properties).length ? { properties } : {}),
  };
}

function mediaType(ctx: RestContext): string {
  return (ctx.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

export function registerImageTransfer(router: Router<RestContext>): void {
  router
    .add('POST', '/1.0/images', async (ctx) => {
      ctx.allow('config');
      const type = mediaType(ctx);
      // `lxc publish`: from an instance or a snapshot (image-publish.ts).
      if (type === 'application/json' || type === '') return asyncOp(await publishFromBody(ctx));
      if (type === 'multipart/form-data')
        throw new RestError(
          501,
          'Split images (metadata + rootfs) are not supported by Berth: import a unified tarball',
        );
      const project = ctx.project;
      await ctx.engine.projects.get(project);
      return importUpload(ctx, 'image', (file) =>
        ctx.engine.images.importTarball(
          project,
          file,
          uploadOptions((name) => ctx.header(name)),
        ),
      );
    })
    .add('GET', '/1.0/images/:fp/export', async (ctx, p: P) => {
      ctx.allow('read');
      const image = await ctx.engine.images.exportTarball(ctx.project, p.fp!);
      // A header carries printable ASCII only; quotes would end the parameter.
      const filename = (image.filename || `${image.fingerprint}.tar.gz`).replace(
        /[^\x20-\x7e]|"/g,
        '_',
      );
      return {
        kind: 'raw',
        status: 200,
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(image.size),
          'Content-Disposition': `attachment; filename="${filename}"`,
        },
        body: image.open(),
      };
    });
}
