// Small C helpers Berth compiles with the host's gcc (setup.sh installs it):
// the guest's berth-pty, the host's berth-mount. Each is built once per
// source (the cache key is the source's hash) into a root-only folder.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from './run-command.ts';

export interface CHelper {
  /** The C source file. */
  source: string;
  /** The binary's name, before its key. */
  name: string;
  /** A static binary, for guests whatever their libc. */
  static?: boolean;
}

/** The compiled helper in `dir`, built when missing. */
export async function compiledHelper(
  helper: CHelper,
  dir: string,
  signal?: AbortSignal,
): Promise<string> {
  const key = createHash('sha256').update(readFileSync(helper.source)).digest('hex').slice(0, 16);
  const out = path.join(dir, `${helper.name}-${key}`);
  if (existsSync(out)) return out;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await runCommand(
      'gcc',
      [...(helper.static ? ['-static'] : []), '-Os', '-s', '-Wall', '-o', tmp, helper.source],
      { timeoutMs: 120_000, ...(signal ? { signal } : {}) },
    );
    await rename(tmp, out);
  } finally {
    await rm(tmp, { force: true });
  }
  return out;
}
