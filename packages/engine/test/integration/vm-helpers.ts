// What the VM integration tests share: QEMU required, tiny VM images built
// from one package cache and placed in a volume, QEMU pids (to clean up by
// their own pid), waits for a booted guest and its agent, the guest's disk
// on /mnt, and qemu-img on the host. Everything a helper acts on is passed
// in: no module state.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { probeQemu } from '../../src/drivers/qemu/qemu-factory.ts';
import { vmPaths } from '../../src/drivers/qemu/qemu-paths.ts';
import { IMAGE_DISK } from '../../src/drivers/qemu/root-disk.ts';
import { isAlive } from '../../src/drivers/qemu/vm-runtime.ts';
import {
  TINY_VM_BANNER,
  buildTinyVmImage,
  type TinyVmImageOptions,
} from '../../src/images/tiny-vm-image.ts';
import type { Engine } from '../../src/index.ts';
import { TEST_CACHE_DIR, removeHostState, waitFor, type TestEngine } from './helpers.ts';

/** The kernel and agent packages: where the engine's own builder keeps them, so one download a machine. */
export const TINY_VM_CACHE = path.join(TEST_CACHE_DIR, 'tiny-vm');

/** Boots under TCG on a loaded two-core machine (several VMs at once) can take minutes: generous, never asserted. */
export const BOOT_WAIT_MS = 240_000;

/** setup.sh installs QEMU: a missing driver fails the test file, it is not skipped. */
export async function requireQemu(): Promise<void> {
  const support = await probeQemu();
  if (!support.available) throw new Error(`QEMU is unavailable: ${support.reason ?? '?'}`);
}

/** The pid in a VM's pid file; 0 when it has none (never started, or stopped). */
export function qemuPid(dataDir: string, project: string, name: string): number {
  try {
    return Number(readFileSync(vmPaths(dataDir, project, name).pidFile, 'utf8').trim());
  } catch {
    return 0;
  }
}

/** A failed test can leave QEMUs running: each is killed by its own pid. */
export function killQemus(dataDir: string, project: string, names: string[]): void {
  for (const name of names) {
    const pid = qemuPid(dataDir, project, name);
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/**
 * afterAll of a VM test file: its QEMUs killed first (the engine may not
 * get to them), then what its engine put on the host, then its folders.
 * `t` is unset when beforeAll failed early.
 */
export async function tearDownVmTest(
  t: TestEngine | undefined,
  what: { dataDir: string; project: string; vms: string[]; bridge?: string; dirs: string[] },
): Promise<void> {
  killQemus(what.dataDir, what.project, what.vms);
  if (t) await removeHostState(t.engine, what.bridge);
  await t?.cleanup();
  for (const dir of what.dirs) rmSync(dir, { recursive: true, force: true });
}

/** Builds a tiny VM image (`disk` or `rootDisk`) into a fresh temporary folder; returns the folder. */
export async function buildTinyVm(
  options: Pick<TinyVmImageOptions, 'disk' | 'rootDisk'>,
): Promise<string> {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'berth-tiny-vm-'));
  await buildTinyVmImage({ ...options, cacheDir: TINY_VM_CACHE, outDir });
  return outDir;
}

/** Waits for the `boots`-th banner: the console log keeps every boot's output. */
export async function booted(engine: Engine, project: string, name: string, boots = 1) {
  await waitFor(
    `banner number ${boots} of ${name} in the console log`,
    () => engine.instances.consoleLog(project, name),
    (log) => log.split(TINY_VM_BANNER).length - 1 >= boots,
    BOOT_WAIT_MS,
  );
}

/** Polls until the guest agent answers an exec of `true`. */
export async function agentAnswers(engine: Engine, project: string, name: string): Promise<void> {
  await waitFor(
    `the guest agent of ${name}`,
    () =>
      engine.instances
        .exec(project, name, { command: ['true'] })
        .then((r) => r.exitCode)
        .catch((error: Error) => error.message),
    (code) => code === 0,
    BOOT_WAIT_MS,
  );
}

/** Booted (its `boots`-th banner) and its agent answering: ready for exec and files. */
export async function agentReady(engine: Engine, project: string, name: string, boots = 1) {
  await booted(engine, project, name, boots);
  await agentAnswers(engine, project, name);
}

/**
 * Puts a built tiny VM image (boot/ and its disk) into a VM's volume, as
 * unpacking a VM image does; returns the volume's paths.
 */
export async function placeTinyVmImage(
  engine: Engine,
  project: string,
  name: string,
  imageDir: string,
): Promise<{ dir: string; rootfs: string }> {
  const { view } = await engine.instances.resolve(project, name);
  cpSync(path.join(imageDir, 'boot'), path.join(view.paths.rootfs, 'boot'), { recursive: true });
  copyFileSync(path.join(imageDir, IMAGE_DISK), path.join(view.paths.rootfs, IMAGE_DISK));
  return view.paths;
}

/** What the guest has written on its disk (/mnt), besides the image's own entries. */
export async function diskFiles(engine: Engine, project: string, name: string): Promise<string[]> {
  const out = await engine.instances.exec(project, name, { command: ['ls', '/mnt'] });
  expect(out.exitCode).toBe(0);
  return out.stdout
    .split('\n')
    .filter((f) => f !== '' && f !== 'lost+found' && f !== 'berth-disk')
    .sort();
}

/** Writes `file` (its content is its name) on the guest's disk through the agent. */
export async function writeOnDisk(engine: Engine, project: string, name: string, file: string) {
  await engine.instances.filePush(project, name, `/mnt/${file}`, {
    content: Buffer.from(`${file}\n`),
  });
}

/** A file's content on the guest's disk, read through the agent. */
export async function readOnDisk(
  engine: Engine,
  project: string,
  name: string,
  file: string,
): Promise<string> {
  const out = await engine.instances.exec(project, name, { command: ['cat', `/mnt/${file}`] });
  expect(out.exitCode).toBe(0);
  return out.stdout;
}

/** `qemu-img check` of a disk nothing has open: exit 0 is no errors and no leaked clusters. */
export function checkDisk(file: string): string {
  return execFileSync('qemu-img', ['check', file], { encoding: 'utf8' });
}

/** `qemu-img info`; -U reads it while a running QEMU holds its lock. */
export function diskInfo(file: string): Record<string, unknown> {
  return JSON.parse(
    execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' }),
  ) as Record<string, unknown>;
}

/** A qcow2 whose backing file is `backing`: how a hostile image or backup would read a host file. */
export function createBackedDisk(file: string, backing: string): void {
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', 'raw', file]);
}

/** Waits for an operation and expects it to have succeeded; returns its metadata. */
export async function succeeded(
  engine: Engine,
  operation: Promise<{ id: string }>,
): Promise<Record<string, unknown>> {
  const done = await engine.operations.wait((await operation).id);
  expect(done.err).toBe('');
  expect(done.status).toBe('Success');
  return (done.metadata ?? {}) as Record<string, unknown>;
}
