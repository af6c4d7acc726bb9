// The busybox image tarball every daemon imports (busybox-image.sh), built
// once per run on first use, so LXD, Berth's server and Berth's engine boot
// the same tree that raw LXC boots.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHost } from './host-command.ts';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

/** What the image is called in every bench project. */
export const IMAGE_ALIAS = 'bench-busybox';

export class BenchImage {
  #dir: string | null = null;
  #built: Promise<string> | null = null;

  /** The tarball's path, built on first call. */
  tarball(): Promise<string> {
    this.#built ??= (async () => {
      this.#dir = await mkdtemp(path.join(os.tmpdir(), 'bench-image-'));
      const file = path.join(this.#dir, 'busybox.tar.gz');
      await runHost(path.join(BENCH_DIR, 'busybox-image.sh'), [file], { needStdout: true });
      return file;
    })();
    return this.#built;
  }

  async remove(): Promise<void> {
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = null;
    this.#built = null;
  }
}
