// Recorded exec output (`record-output: true`): one file per stream under
// <dataDir>/exec-output/<project>/<instance>/, named as LXD 5.0 names them
// (`exec_<operation id>.stdout|.stderr`) and served back under
// /1.0/instances/<name>/logs/.
//
// The files follow their instance: renamed with it, deleted with it and
// with its project (the engine's lifecycle events tell when), and swept at
// start-up for instances and projects that went while the server was down.
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EventBus } from '@berth/engine';
import { RestError } from './envelope.ts';

/** An instance or project deleted or renamed, as the engine's event bus tells it. */
type NameChange = Parameters<Parameters<EventBus['onNameChange']>[0]>[0];

const fileName =
  /^exec_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(stdout|stderr)$/;

export function isExecOutputName(name: string): boolean {
  return fileName.test(name);
}

export class ExecOutputStore {
  constructor(private readonly dataDir: string) {}

  dir(project: string, instance: string): string {
    // Project and instance names never contain "/" (both are validated names).
    return path.join(this.dataDir, 'exec-output', project, instance);
  }

  /** Writes both streams; returns their file names. */
  async record(
    project: string,
    instance: string,
    operationId: string,
    output: { stdout: string | Buffer; stderr: string | Buffer },
  ): Promise<{ stdout: string; stderr: string }> {
    const dir = this.dir(project, instance);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const names = { stdout: `exec_${operationId}.stdout`, stderr: `exec_${operationId}.stderr` };
    await writeFile(path.join(dir, names.stdout), output.stdout, { mode: 0o600 });
    await writeFile(path.join(dir, names.stderr), output.stderr, { mode: 0o600 });
    return names;
  }

  async list(project: string, instance: string): Promise<string[]> {
    const entries = await readdir(this.dir(project, instance)).catch(() => [] as string[]);
    return entries.filter(isExecOutputName).sort();
  }

  /** The path of one recorded file; 404 for anything else. */
  async path(project: string, instance: string, name: string): Promise<string> {
    if (!isExecOutputName(name)) throw RestError.notFound('Log file not found');
    const file = path.join(this.dir(project, instance), name);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw RestError.notFound('Log file not found');
    return file;
  }

  async remove(project: string, instance: string, name: string): Promise<void> {
    await rm(await this.path(project, instance, name));
  }

  #projectDir(project: string): string {
    return path.join(this.dataDir, 'exec-output', project);
  }

  /** Keeps the files with their owner: an instance or project deleted or renamed. */
  async follow(change: NameChange): Promise<void> {
    if (change.kind === 'instance') {
      if (change.change === 'deleted') {
        await rm(this.dir(change.project, change.name), { recursive: true, force: true });
      } else {
        await moveDir(
          this.dir(change.project, change.oldName),
          this.dir(change.project, change.name),
        );
      }
    } else if (change.change === 'deleted') {
      await rm(this.#projectDir(change.name), { recursive: true, force: true });
    } else {
      await moveDir(this.#projectDir(change.oldName), this.#projectDir(change.name));
    }
  }

  /**
   * Removes the files of instances and projects that no longer exist (gone
   * while the server was down, or before files followed their owner).
   * `instancesOf` answers null for a project that does not exist.
   */
  async sweep(instancesOf: (project: string) => Promise<string[] | null>): Promise<void> {
    const root = path.join(this.dataDir, 'exec-output');
    const projects = await readdir(root).catch(() => [] as string[]);
    for (const project of projects) {
      const instances = await instancesOf(project);
      if (instances === null) {
        await rm(this.#projectDir(project), { recursive: true, force: true });
        continue;
      }
      for (const instance of await readdir(this.#projectDir(project)).catch(() => [] as string[])) {
        if (!instances.includes(instance))
          await rm(this.dir(project, instance), { recursive: true, force: true });
      }
    }
  }
}

/** Renames a directory if it exists; what was at the target (stale files) goes first. */
async function moveDir(from: string, to: string): Promise<void> {
  if (!(await stat(from).catch(() => undefined))?.isDirectory()) return;
  await rm(to, { recursive: true, force: true });
  await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
  await rename(from, to);
}
