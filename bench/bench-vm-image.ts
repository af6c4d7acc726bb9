// The busybox VM image the daemons import (Berth's server, and LXD for its
// try): built once per run by Berth's own builder,
// engine.images.buildBusyboxVm, in a scratch engine, and exported as the
// unified tarball Berth gives `lxc image export` (metadata.yaml, rootfs.img
// and boot/). The in-process engine builds its copy with the same call; raw
// QEMU builds the same files with buildTinyVmImage (raw-qemu.ts).
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine } from '../packages/engine/src/index.ts';

/** What the VM image is called in every bench project. */
export const VM_IMAGE_ALIAS = 'bench-busybox-vm';
/**
 * Where the kernel and agent packages are kept between builds (the tiny VM
 * builder's `tiny-vm` cache is under it); shared with the engine's tests, so
 * nothing is fetched again.
 */
export const BUILD_CACHE_DIR = process.env.BERTH_CACHE_DIR || '/tmp/berth-build-cache';

export class BenchVmImage {
  #dir: string | null = null;
  #built: Promise<string> | null = null;

  /** The tarball's path, built on first call. */
  tarball(): Promise<string> {
    this.#built ??= (async () => {
      this.#dir = await mkdtemp(path.join(os.tmpdir(), 'bench-vm-image-'));
      const dataDir = path.join(this.#dir, 'engine');
      const engine = await createEngine({
        dataDir,
        defaultNetwork: null,
        scheduler: false,
        cacheDir: BUILD_CACHE_DIR,
      });
      try {
        const op = await engine.images.buildBusyboxVm('default', { alias: VM_IMAGE_ALIAS });
        const done = await engine.operations.wait(op.id);
        if (done.status !== 'Success')
          throw new Error(`building the busybox VM image: ${done.status}: ${done.err}`);
        const fingerprint = String(
          (done.metadata as Record<string, unknown> | null)?.['fingerprint'],
        );
        const exported = await engine.images.exportTarball('default', fingerprint);
        const file = path.join(this.#dir, 'busybox-vm.tar.gz');
        await copyFile(exported.path, file);
        return file;
      } finally {
        await engine.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    })();
    return this.#built;
  }

  async remove(): Promise<void> {
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = null;
    this.#built = null;
  }
}
