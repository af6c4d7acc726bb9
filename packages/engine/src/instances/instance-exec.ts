// Inside the instance: commands (recorded, interactive, or piped by the
// caller), the console and its log, a VM's graphical console, and files.
import { EngineError } from '../errors.ts';
import { ExecPost, type ExecResult } from '../schemas/index.ts';
import { parseInput } from '../parse-input.ts';
import type {
  ConsoleStream,
  ExecProcess,
  FileStat,
  FileWrite,
  GraphicalConsoleStream,
} from '../drivers/driver.ts';
import { expandedOf, viewOf, type InstanceContext } from './instance-context.ts';

/**
 * A command checked and its instance found running, ready to run: what an
 * API checks before it answers (LXD refuses exec on a stopped instance
 * before an operation exists), then runs in the operation without looking
 * the instance up again.
 */
export interface PreparedExec {
  /** Runs it to completion: exit code and output (LXD's exec with record-output). */
  record(): Promise<ExecResult>;
  /** Starts it with streams the caller pipes: stdout and stderr, or one pty with `interactive`. */
  start(interactive?: { cols: number; rows: number }): Promise<ExecProcess>;
}

export async function prepareExec(
  ctx: InstanceContext,
  project: string,
  name: string,
  input: ExecPost,
): Promise<PreparedExec> {
  const req = parseInput(ExecPost, input);
  const { driver, view } = await running(ctx, project, name);
  const start = (interactive?: { cols: number; rows: number }, stdin?: 'none') =>
    driver.exec(view, {
      command: req.command,
      environment: req.environment,
      ...(req.cwd !== undefined ? { cwd: req.cwd } : {}),
      ...(req.user !== undefined ? { user: req.user } : {}),
      ...(req.group !== undefined ? { group: req.group } : {}),
      ...(interactive ? { interactive } : {}),
      ...(stdin ? { stdin } : {}),
    });
  // Recorded: nobody writes stdin, so it is /dev/null as in LXD (a VM then needs no stdin FIFO).
  return {
    start: (interactive) => start(interactive),
    record: async () => recordOutput(await start(undefined, 'none'), req.timeout),
  };
}

async function recordOutput(process: ExecProcess, timeoutSeconds: number): Promise<ExecResult> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  process.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  let timer: NodeJS.Timeout | undefined;
  if (timeoutSeconds > 0)
    timer = setTimeout(() => process.signal('SIGKILL'), timeoutSeconds * 1000);
  try {
    const exitCode = await process.wait();
    return {
      exitCode,
      stdout: Buffer.concat(stdout).toString('utf8'),
      stderr: Buffer.concat(stderr).toString('utf8'),
    };
  } finally {
    clearTimeout(timer);
  }
}

export async function openConsole(
  ctx: InstanceContext,
  project: string,
  name: string,
  size: { cols: number; rows: number },
): Promise<ConsoleStream> {
  const { driver, view } = await running(ctx, project, name);
  return driver.console(view, size);
}

/**
 * A running VM's VGA screen as a VNC byte stream. As LXD: a container is
 * refused for what it is before its state is looked at.
 */
export async function openGraphicalConsole(
  ctx: InstanceContext,
  project: string,
  name: string,
): Promise<GraphicalConsoleStream> {
  const found = await located(ctx, project, name);
  if (found.view.type !== 'virtual-machine')
    throw new EngineError(
      'INVALID_ARGUMENT',
      `VGA console is only supported by virtual machines ("${name}" is a ${found.view.type})`,
    );
  await mustRun(found, name);
  return found.driver.graphicalConsole(found.view);
}

export async function consoleLog(
  ctx: InstanceContext,
  project: string,
  name: string,
): Promise<string> {
  const { driver, view } = await located(ctx, project, name);
  return driver.consoleLog(view);
}

export async function filePull(ctx: InstanceContext, project: string, name: string, path: string) {
  const { driver, view } = await located(ctx, project, name);
  return driver.filePull(view, path);
}

/** What `path` is (a symlink itself, not followed), without reading it. */
export async function fileStat(
  ctx: InstanceContext,
  project: string,
  name: string,
  path: string,
): Promise<FileStat> {
  const { driver, view } = await located(ctx, project, name);
  return driver.stat(view, path);
}

/** A directory's entries, stat'ed and sorted by name, without reading any of them. */
export async function listDirectory(
  ctx: InstanceContext,
  project: string,
  name: string,
  path: string,
): Promise<FileStat[]> {
  const { driver, view } = await located(ctx, project, name);
  return driver.listDirectory(view, path);
}

export async function filePush(
  ctx: InstanceContext,
  project: string,
  name: string,
  path: string,
  file: FileWrite,
): Promise<void> {
  const { driver, view } = await located(ctx, project, name);
  await driver.filePush(view, path, file);
}

export async function fileRemove(
  ctx: InstanceContext,
  project: string,
  name: string,
  path: string,
): Promise<void> {
  const { driver, view } = await located(ctx, project, name);
  await driver.fileRemove(view, path);
}

/** The instance's driver (throws DRIVER_UNAVAILABLE when there is none) and view. */
async function located(ctx: InstanceContext, project: string, name: string) {
  const instance = await expandedOf(ctx.db, project, name);
  const driver = ctx.drivers.get(instance.type);
  return { driver, view: await viewOf(ctx, instance) };
}

/** Throws CONFLICT unless the instance runs (a frozen one does not): before exec or console. */
export async function requireRunning(
  ctx: InstanceContext,
  project: string,
  name: string,
): Promise<void> {
  await running(ctx, project, name);
}

/** As `located`, for a running instance only (CONFLICT otherwise). */
async function running(ctx: InstanceContext, project: string, name: string) {
  const found = await located(ctx, project, name);
  await mustRun(found, name);
  return found;
}

async function mustRun({ driver, view }: Awaited<ReturnType<typeof located>>, name: string) {
  const status = await driver.status(view);
  if (status !== 'Running')
    throw new EngineError('CONFLICT', `Instance "${name}" is not running (${status})`);
}
