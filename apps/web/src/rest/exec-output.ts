// Recorded exec output (`record-output: true`): one file per stream under
// <dataDir>/exec-output/<project>/<instance>/, named as LXD 5.0 names them
// (`exec_<operation id>.stdout|.stderr`) and served back under
// /1.0/instances/<name>/logs/.
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RestError } from './envelope.ts';

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
}
