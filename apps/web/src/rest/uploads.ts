// Uploads that become an operation (`lxc image import`, `lxc import`): the
// whole body is on disk before the operation starts, as LXD does it (a
// client is never answered while it is still sending), and the file goes
// once the operation is over, however it ended.
//
// A split image (`lxc image import meta.tar.xz rootfs.squashfs`) comes as
// multipart/form-data with two parts, `metadata` then `rootfs` (container)
// or `rootfs.img` (VM), as LXD's client writes them (client/lxd_images.go
// CreateImage). The parts are written to their own files as the body
// streams in (readMultipart), so nothing is stored twice.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Operation } from '@berth/engine';
import type { RestContext } from './context.ts';
import { asyncOp, RestError, type RestResult } from './envelope.ts';

async function uploadsDir(ctx: RestContext): Promise<string> {
  const dir = path.join(ctx.services.dataDir, 'uploads');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Writes the request body to a root-only file under `<data dir>/uploads`. */
async function receiveUpload(ctx: RestContext, kind: 'image' | 'backup'): Promise<string> {
  const file = path.join(await uploadsDir(ctx), `${kind}-${randomUUID()}`);
  try {
    await pipeline(ctx.req, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } catch (error) {
    await rm(file, { force: true });
    const what = kind === 'image' ? 'Image' : 'Backup';
    throw RestError.badRequest(`${what} upload failed: ${(error as Error).message}`);
  }
  return file;
}

/** Receives the upload, starts the operation on it, and removes the file when that ends. */
export async function importUpload(
  ctx: RestContext,
  kind: 'image' | 'backup',
  start: (file: string) => Promise<Operation>,
): Promise<RestResult> {
  const file = await receiveUpload(ctx, kind);
  return startOnFiles(ctx, [file], () => start(file));
}

/** Starts the operation; the files go when it ends (or now, when it does not start). */
async function startOnFiles(
  ctx: RestContext,
  files: string[],
  start: () => Promise<Operation>,
): Promise<RestResult> {
  const removeAll = () => Promise.all(files.map((f) => rm(f, { force: true })));
  try {
    const op = await start();
    void ctx.engine.operations
      .wait(op.id)
      .catch(() => undefined)
      .finally(removeAll);
    return asyncOp(op);
  } catch (error) {
    await removeAll();
    throw error;
  }
}

// ------------------------------------------------------------ split images

/** A split image's two parts, on disk. */
export interface SplitUpload {
  metadata: string;
  rootfs: string;
  /** From the rootfs part's name: `rootfs` is a container's, `rootfs.img` a VM's. */
  type: 'container' | 'virtual-machine';
  /** The rootfs part's file name (LXD names a split image after it), base name only. */
  rootfsFilename: string | undefined;
}

/** A multipart part's headers that matter: its form name and file name. */
export interface PartHeaders {
  name: string;
  filename: string | undefined;
}

const MAX_PART_HEADERS = 16 * 1024;
const MAX_PREAMBLE = 64 * 1024;

function malformed(reason: string): RestError {
  return RestError.badRequest(`Invalid multipart image: ${reason}`);
}

/** `form-data; name="metadata"; filename="meta.tar.xz"` (Go puts a backslash before `"` and `\`). */
export function parsePartHeaders(block: string): PartHeaders {
  let disposition: string | undefined;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'content-disposition')
      disposition = line.slice(colon + 1).trim();
  }
  if (!disposition) throw malformed('a part has no Content-Disposition header');
  const params = new Map<string, string>();
  const param = /;\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  for (const m of disposition.matchAll(param)) {
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    params.set(m[1]!.toLowerCase(), value);
  }
  const name = params.get('name');
  if (name === undefined) throw malformed('a part has no form name');
  return { name, filename: params.get('filename') };
}

/** A part's body goes to the sink it names; `null` refuses the part. */
export interface PartSink {
  write(chunk: Buffer): Promise<void>;
  close(): Promise<void>;
}

/**
 * Reads a multipart/form-data body (RFC 2046 framing, as Go's
 * multipart.Writer writes it) as it streams in: every part's body goes to
 * the sink `openPart` gives for its headers. Throws a 400 on a malformed or
 * truncated body (no closing boundary).
 */
export async function readMultipart(
  body: AsyncIterable<Buffer | string> | Iterable<Buffer>,
  boundary: string,
  openPart: (headers: PartHeaders, index: number) => Promise<PartSink>,
): Promise<number> {
  // The body's start counts as a line break, so the first boundary is found like the others.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const keep = delimiter.length - 1;
  let buf: Buffer = Buffer.from('\r\n');
  let phase: 'preamble' | 'delimiter' | 'headers' | 'body' | 'done' = 'preamble';
  let sink: PartSink | null = null;
  let parts = 0;
  // Read through functions: `step` changes them, which the compiler's narrowing cannot see.
  const finished = () => phase === 'done';
  const openSink = () => sink;
  try {
    const step = async (): Promise<boolean> => {
      switch (phase) {
        case 'preamble': {
          const at = buf.indexOf(delimiter);
          if (at === -1) {
            if (buf.length > MAX_PREAMBLE) throw malformed('no boundary where the body starts');
            return false;
          }
          buf = buf.subarray(at + delimiter.length);
          phase = 'delimiter';
          return true;
        }
        case 'delimiter': {
          // `--` closes the body; otherwise optional padding, then CRLF and a part's headers.
          if (buf.length < 2) return false;
          if (buf[0] === 0x2d && buf[1] === 0x2d) {
            phase = 'done';
            return false;
          }
          const eol = buf.indexOf('\r\n');
          if (eol === -1) {
            if (buf.length > 256) throw malformed('a boundary is not followed by a line break');
            return false;
          }
          if (!/^[ \t]*$/.test(buf.subarray(0, eol).toString('latin1')))
            throw malformed('a boundary is followed by other text');
          buf = buf.subarray(eol + 2);
          phase = 'headers';
          return true;
        }
        case 'headers': {
          const end = buf.indexOf('\r\n\r\n');
          // A part without headers starts with the empty line at once.
          const empty = buf.subarray(0, 2).toString('latin1') === '\r\n';
          if (end === -1 && !empty) {
            if (buf.length > MAX_PART_HEADERS) throw malformed("a part's headers are too long");
            return false;
          }
          const block = empty ? '' : buf.subarray(0, end).toString('utf8');
          buf = buf.subarray(empty ? 2 : end + 4);
          sink = await openPart(parsePartHeaders(block), parts++);
          phase = 'body';
          return true;
        }
        case 'body': {
          const at = buf.indexOf(delimiter);
          if (at === -1) {
            if (buf.length > keep) {
              await sink!.write(buf.subarray(0, buf.length - keep));
              buf = buf.subarray(buf.length - keep);
            }
            return false;
          }
          await sink!.write(buf.subarray(0, at));
          await sink!.close();
          sink = null;
          buf = buf.subarray(at + delimiter.length);
          phase = 'delimiter';
          return true;
        }
        case 'done':
          return false;
      }
    };
    for await (const raw of body) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
      if (finished()) continue; // the epilogue, which means nothing
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (await step());
    }
    while (await step());
    if (!finished()) throw malformed('the body ended before its closing boundary (truncated)');
    return parts;
  } finally {
    await openSink()?.close();
  }
}

function fileSink(handle: FileHandle): PartSink {
  let closed = false;
  return {
    async write(chunk) {
      if (chunk.length) await handle.write(chunk);
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/** LXD keeps only the base name of what the client calls its file. */
function baseName(filename: string | undefined): string | undefined {
  if (!filename) return undefined;
  const base = path.posix.basename(filename.replaceAll('\\', '/'));
  return base && base !== '.' && base !== '..' ? base : undefined;
}

/** Writes a split image's two parts to root-only files under `<data dir>/uploads`. */
async function receiveSplitUpload(ctx: RestContext, boundary: string): Promise<SplitUpload> {
  const dir = await uploadsDir(ctx);
  const id = randomUUID();
  const metadata = path.join(dir, `image-${id}.metadata`);
  const rootfs = path.join(dir, `image-${id}.rootfs`);
  let type: SplitUpload['type'] | undefined;
  let rootfsFilename: string | undefined;
  try {
    const parts = await readMultipart(ctx.req, boundary, async (headers, index) => {
      if (index === 0) {
        if (headers.name !== 'metadata')
          throw malformed(`the first part must be "metadata", not "${headers.name}"`);
        return fileSink(await open(metadata, 'wx', 0o600));
      }
      if (index === 1) {
        if (headers.name !== 'rootfs' && headers.name !== 'rootfs.img')
          throw malformed(
            `the second part must be "rootfs" or "rootfs.img", not "${headers.name}"`,
          );
        type = headers.name === 'rootfs' ? 'container' : 'virtual-machine';
        rootfsFilename = baseName(headers.filename);
        return fileSink(await open(rootfs, 'wx', 0o600));
      }
      throw malformed('a split image has two parts, metadata and rootfs (or rootfs.img)');
    });
    if (parts < 2 || !type) throw malformed('the rootfs (or rootfs.img) part is missing');
    return { metadata, rootfs, type, rootfsFilename };
  } catch (error) {
    await Promise.all([rm(metadata, { force: true }), rm(rootfs, { force: true })]);
    if (error instanceof RestError) throw error;
    throw RestError.badRequest(`Image upload failed: ${(error as Error).message}`);
  }
}

/** The boundary of a multipart/form-data request, or a 400. */
function multipartBoundary(contentType: string | undefined): string {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary || boundary.length > 70)
    throw RestError.badRequest('Invalid multipart image: the Content-Type names no boundary');
  return boundary;
}

/** Receives a split image's two parts and starts the import on them; they go when it ends. */
export async function importSplitUpload(
  ctx: RestContext,
  start: (upload: SplitUpload) => Promise<Operation>,
): Promise<RestResult> {
  const upload = await receiveSplitUpload(ctx, multipartBoundary(ctx.header('content-type')));
  return startOnFiles(ctx, [upload.metadata, upload.rootfs], () => start(upload));
}
