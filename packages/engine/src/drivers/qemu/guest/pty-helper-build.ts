// Builds the guest's berth-pty helper (berth-pty.c beside this file) for
// the VM images Berth makes: a static x86_64 binary, so it runs in any
// guest whatever its libc.
import { fileURLToPath } from 'node:url';
import { compiledHelper } from '../../../host/c-helper.ts';

const SOURCE = fileURLToPath(new URL('./berth-pty.c', import.meta.url));

/** The compiled helper in `cacheDir`, built when missing. */
export function buildPtyHelper(cacheDir: string, signal?: AbortSignal): Promise<string> {
  return compiledHelper({ source: SOURCE, name: 'berth-pty', static: true }, cacheDir, signal);
}
