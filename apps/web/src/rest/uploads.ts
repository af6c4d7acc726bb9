// Uploads that become an operation (`lxc image import`, `lxc import`): the
// whole body is on disk before the operation starts, as LXD does it (a
// client is never answered while it is still sending), and the file goes
// once the operation is over, however it ended.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Operation } from '@berth/engine';
import type { RestContext } from './context.ts';
import { asyncOp, RestError, type RestResult } from './envelope.ts';

/** Writes the request body to a root-only file under `<data dir>/uploads`. */
async function receiveUpload(ctx: RestContext, kind: 'image' | 'backup'): Promise<string> {
  const dir = path.join(ctx.services.dataDir, 'uploads');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${kind}-${randomUUID()}`);
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
  try {
    const op = await start(file);
    void ctx.engine.operations
      .wait(op.id)
      .catch(() => undefined)
      .finally(() => rm(file, { force: true }));
    return asyncOp(op);
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
}
