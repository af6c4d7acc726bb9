// Image files over REST, as `lxc image import` and `lxc image export` move them:
//
//   POST /1.0/images            a unified tarball as the raw body
//                               (Content-Type application/octet-stream; X-LXD-filename,
//                               X-LXD-public, X-LXD-properties headers), or a split image as
//                               multipart/form-data with the parts `metadata` then `rootfs`
//                               (container) or `rootfs.img` (VM); imported by the engine as
//                               an operation ending with {fingerprint, size}
//   GET  /1.0/images/<fp>/export the unified tarball, named in Content-Disposition; a split
//                               image's two files as multipart/form-data, parts `metadata`
//                               and `rootfs`/`rootfs.img`, as LXD sends them (lxd/images.go
//                               imageExport; the client's GetImageFile reads them)
//
//   POST /1.0/images            a JSON body with an instance or snapshot source: publish
//                               (image-publish.ts)
//
// Copies from other servers are not supported.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { RestContext } from '../context.ts';
import { asyncOp, type RestResult } from '../envelope.ts';
import { publishFromBody } from './image-publish.ts';
import type { Router } from '../router.ts';
import { importSplitUpload, importUpload } from '../uploads.ts';

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

/** A header carries printable ASCII only; quotes would end the parameter. */
function headerSafe(name: string): string {
  return name.replace(/[^\x20-\x7e]|"/g, '_');
}

/** Go's multipart escaping of a Content-Disposition parameter. */
function quoted(value: string): string {
  return value.replace(/[\\"]/g, (c) => `\\${c}`);
}

/**
 * A split image's export: its two files as the parts `metadata` and
 * `rootfs`/`rootfs.img`, framed as Go's multipart.Writer frames them, with
 * the length told up front (so the client shows a percentage).
 */
export function multipartExport(
  parts: {
    name: string;
    file: { filename: string; size: number; open(): AsyncIterable<unknown> };
  }[],
): RestResult {
  const boundary = randomBytes(30).toString('hex');
  const heads = parts.map(
    ({ name, file }, i) =>
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${quoted(name)}"; filename="${quoted(headerSafe(file.filename))}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = `\r\n--${boundary}--\r\n`;
  const length =
    heads.reduce((n, h) => n + Buffer.byteLength(h), 0) +
    parts.reduce((n, p) => n + p.file.size, 0) +
    Buffer.byteLength(tail);
  async function* body() {
    for (const [i, part] of parts.entries()) {
      yield Buffer.from(heads[i]!);
      for await (const chunk of part.file.open()) yield chunk as Buffer;
    }
    yield Buffer.from(tail);
  }
  return {
    kind: 'raw',
    status: 200,
    headers: {
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
      'Content-Length': String(length),
    },
    body: Readable.from(body()),
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
      const project = ctx.project;
      await ctx.engine.projects.get(project);
      if (type === 'multipart/form-data') {
        // LXD names a split image after its rootfs part; X-LXD-filename names the metadata file.
        const options = uploadOptions((name) => ctx.header(name));
        return importSplitUpload(ctx, (upload) =>
          ctx.engine.images.importSplit(
            project,
            { metadata: upload.metadata, rootfs: upload.rootfs, type: upload.type },
            { ...options, filename: upload.rootfsFilename ?? '' },
          ),
        );
      }
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
      if (image.split)
        return multipartExport([
          { name: 'metadata', file: image.split.metadata },
          { name: image.split.rootfs.part, file: image.split.rootfs },
        ]);
      const filename = headerSafe(image.filename || `${image.fingerprint}.tar.gz`);
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
