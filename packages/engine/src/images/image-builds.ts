// The built-in image builders: busybox from the host's static binary
// (seconds), a busybox virtual machine (a Debian kernel, a busybox
// initramfs and root disk with qemu-guest-agent: tiny-vm-image.ts), and
// Debian debootstrapped from the host's archive (minutes; as a container or
// as a VM: debian-vm-build.ts). Each builds a rootfs (or a VM's disk and
// boot files) in a work directory and imports it as a directory image; all
// are cancellable operations.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { buildPtyHelper } from '../drivers/qemu/guest/pty-helper-build.ts';
import { EngineError } from '../errors.ts';
import { runCommand } from '../host/run-command.ts';
import { scaled, throttled, type Progress } from '../operations/progress.ts';
import type { Operation } from '../schemas/index.ts';
import { busyboxTemplates, probeBusybox, writeBusyboxRootfs } from './busybox-rootfs.ts';
import {
  debianReleases,
  debootstrapArgs,
  hostDebianMirror,
  prepareDebianRootfs,
  removeAptCache,
} from './debian-builder.ts';
import { buildDebianVmFiles } from './debian-vm-build.ts';
import { debianVmTemplates } from './debian-vm-rootfs.ts';
import { hostArchitecture } from './image-api.ts';
import { normalizeAliases } from './image-aliases.ts';
import { checkAliasesFree, requireProject, type ImageContext } from './image-context.ts';
import { importDirectory, type CheckedImport, type ImportResult } from './image-import.ts';
import type { ImageMetadata } from './image-metadata.ts';
import { buildTinyVmImage } from './tiny-vm-image.ts';

interface BuiltImage {
  /** Default: container. */
  type?: 'container' | 'virtual-machine';
  /** Besides `architecture` (this host's). */
  properties: Record<string, string>;
  templates?: { metadata: ImageMetadata['templates']; files: Record<string, string> };
}

/**
 * `build` writes a rootfs into a work directory, which is imported for this
 * host's architecture; the properties it returns (what it learnt building)
 * join the image's.
 */
async function buildAndImport(
  ctx: ImageContext,
  project: string,
  build: (rootfsDir: string) => Promise<Record<string, string> | void>,
  image: BuiltImage,
  options: CheckedImport,
  progress: Progress,
  signal: AbortSignal,
): Promise<ImportResult> {
  const work = await ctx.tempDir();
  try {
    const rootfsDir = path.join(work, 'rootfs');
    const learnt = await build(rootfsDir);
    const architecture = hostArchitecture();
    return await importDirectory(
      ctx,
      project,
      {
        rootfsDir,
        type: image.type ?? 'container',
        metadata: {
          architecture,
          properties: { architecture, ...image.properties, ...learnt },
          ...(image.templates ? { templates: image.templates.metadata } : {}),
        },
        ...(image.templates ? { templates: image.templates.files } : {}),
      },
      options,
      progress,
      signal,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export function buildBusybox(
  ctx: ImageContext,
  project: string,
  options: { alias?: string; public?: boolean },
): Promise<Operation> {
  const aliases = normalizeAliases(options.alias ? [options.alias] : []);
  return ctx.operations.start({
    project,
    description: 'Building busybox image',
    mayCancel: true,
    run: async (op) => {
      const progress = throttled(op);
      await requireProject(ctx, project);
      await checkAliasesFree(ctx, project, aliases);
      await progress(0, 'Building rootfs');
      const info = await probeBusybox(ctx.busybox, op.signal);
      return buildAndImport(
        ctx,
        project,
        async (rootfsDir) => {
          await mkdir(rootfsDir, { mode: 0o755 });
          await writeBusyboxRootfs(rootfsDir, ctx.busybox, info);
        },
        {
          properties: {
            description: `BusyBox v${info.version}`,
            os: 'busybox',
            release: info.version.split('.').slice(0, 2).join('.'),
          },
          templates: busyboxTemplates,
        },
        { aliases, filename: 'busybox.tar.gz', public: options.public ?? false },
        scaled(progress, 10, 100),
        op.signal,
      );
    },
  });
}

/** The tiny VM's root disk: room for what a user writes; the qcow2 holds only what is used. */
const BUSYBOX_VM_DISK_BYTES = 256 * 1024 * 1024;

export function buildBusyboxVm(
  ctx: ImageContext,
  project: string,
  options: { alias?: string; public?: boolean },
): Promise<Operation> {
  const aliases = normalizeAliases(options.alias ? [options.alias] : []);
  return ctx.operations.start({
    project,
    description: 'Building busybox VM image',
    mayCancel: true,
    run: async (op) => {
      const progress = throttled(op);
      await requireProject(ctx, project);
      await checkAliasesFree(ctx, project, aliases);
      await progress(0, 'Fetching the kernel and the guest agent');
      const info = await probeBusybox(ctx.busybox, op.signal);
      return buildAndImport(
        ctx,
        project,
        async (diskDir) => {
          await mkdir(diskDir, { mode: 0o755 });
          const built = await buildTinyVmImage({
            cacheDir: ctx.files.cache('tiny-vm'),
            outDir: diskDir,
            busybox: ctx.busybox,
            rootDisk: { sizeBytes: BUSYBOX_VM_DISK_BYTES },
            signal: op.signal,
          });
          await progress(60, 'Packing image');
          return { description: `BusyBox v${info.version} VM (Linux ${built.kernelVersion})` };
        },
        {
          type: 'virtual-machine',
          properties: {
            os: 'busybox',
            release: info.version.split('.').slice(0, 2).join('.'),
            variant: 'vm',
          },
          // The container image's: the VM's name in /etc/hostname and /etc/hosts.
          templates: busyboxTemplates,
        },
        { aliases, filename: 'busybox-vm.tar.gz', public: options.public ?? false },
        scaled(progress, 60, 100),
        op.signal,
      );
    },
  });
}

export interface DebianBuildOptions {
  release?: string;
  alias?: string;
  public?: boolean;
  mirror?: string;
  /** The virtual machine variant (`lxc launch images:debian/12 --vm`): a kernel, a root disk, the guest agent. */
  vm?: boolean;
}

export function buildDebian(
  ctx: ImageContext,
  project: string,
  options: DebianBuildOptions,
): Promise<Operation> {
  const release = debianReleases[options.release ?? '12'];
  if (!release) {
    return Promise.reject(
      EngineError.invalid(
        'release',
        `unknown Debian release "${options.release}" (known: ${Object.keys(debianReleases).join(', ')})`,
      ),
    );
  }
  const vm = options.vm === true;
  const aliases = normalizeAliases(options.alias ? [options.alias] : []);
  return ctx.operations.start({
    project,
    description: `Building debian/${release.version} ${vm ? 'VM ' : ''}image`,
    mayCancel: true,
    run: async (op) => {
      const progress = throttled(op);
      await requireProject(ctx, project);
      await checkAliasesFree(ctx, project, aliases);
      const mirror = options.mirror ?? (await hostDebianMirror());
      const description = `Debian ${release.version} (${release.codename})`;
      const properties = { os: 'debian', release: release.codename };
      const importOptions = {
        aliases,
        filename: `debian-${release.version}${vm ? '-vm' : ''}.tar.gz`,
        public: options.public ?? false,
      };
      if (vm) {
        return buildAndImport(
          ctx,
          project,
          async (diskDir) => {
            await mkdir(diskDir, { mode: 0o755 });
            const ptyHelper = await buildPtyHelper(ctx.files.cache('berth-pty'), op.signal);
            const work = await ctx.tempDir();
            try {
              const built = await buildDebianVmFiles({
                codename: release.codename,
                mirror,
                outDir: diskDir,
                workDir: work,
                ptyHelper,
                progress: scaled(progress, 0, 70),
                signal: op.signal,
              });
              return { description: `${description} VM (Linux ${built.kernelVersion})` };
            } finally {
              await rm(work, { recursive: true, force: true });
            }
          },
          {
            type: 'virtual-machine',
            // LXD's image server keeps `variant: default` and says `type: disk-kvm.img`;
            // Berth's VM images say `variant: vm`, as the busybox VM does.
            properties: { ...properties, variant: 'vm' },
            templates: debianVmTemplates,
          },
          importOptions,
          scaled(progress, 70, 100),
          op.signal,
        );
      }
      return buildAndImport(
        ctx,
        project,
        async (rootfsDir) => {
          await progress(0, `Running debootstrap ${release.codename} from ${mirror}`);
          await runCommand('debootstrap', debootstrapArgs(release.codename, rootfsDir, mirror), {
            timeoutMs: 30 * 60_000,
            signal: op.signal,
          });
          await progress(70, 'Preparing rootfs');
          await prepareDebianRootfs(rootfsDir, mirror, release.codename);
          await removeAptCache(rootfsDir);
        },
        { properties: { description, ...properties, variant: 'default' } },
        importOptions,
        scaled(progress, 75, 100),
        op.signal,
      );
    },
  });
}
