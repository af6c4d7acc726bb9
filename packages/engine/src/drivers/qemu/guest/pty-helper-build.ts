// Builds the guest's berth-pty helper (berth-pty.c beside this file) for
// the VM images Berth makes: a static x86_64 binary, so it runs in any
// guest whatever its libc. Compiled once per source (the cache key is the
// source's hash) with the host's gcc, which setup.sh installs.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../../../host/run-command.ts';

const SOURCE = fileURLToPath(new URL('./berth-pty.c', import.meta.url));

/** The compiled helper in `cacheDir`, built when missing. */
export async function buildPtyHelper(cacheDir: string, signal?: AbortSignal): Promise<string> {
  const source = readFileSync(SOURCE);
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const out = path.join(cacheDir, `berth-pty-${key}`);
  if (existsSync(out)) return out;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await runCommand('gcc', ['-static', '-Os', '-s', '-Wall', '-o', tmp, SOURCE], {
      timeoutMs: 120_000,
      ...(signal ? { signal } : {}),
    });
    await rename(tmp, out);
  } finally {
    await rm(tmp, { force: true });
  }
  return out;
}
