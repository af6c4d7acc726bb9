// Runs a host command (lxc-*, ip, cp, the lxc CLI) for the bench: argument
// arrays, no shell, stdin closed, a hard timeout that kills the whole process
// group. Much like the engine's own runner, but standalone so the raw-LXC and
// LXD halves work even while the engine is mid-rewrite.
import { spawn } from 'node:child_process';

export interface HostCommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface HostCommandOptions {
  timeoutMs?: number;
  /** Resolve on a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /**
   * Wait for stdout to close before resolving. Off by default because
   * `lxc-start -d` hands its pipes to the daemonised monitor, which closes
   * them a few ms after the command exits: waiting for them would add that
   * delay to the very floor we measure.
   */
  needStdout?: boolean;
  /** The child's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export class HostCommandError extends Error {
  constructor(
    readonly command: readonly string[],
    readonly result: HostCommandResult | null,
    message: string,
  ) {
    super(message);
    this.name = 'HostCommandError';
  }
}

export function runHost(
  command: string,
  args: readonly string[],
  options: HostCommandOptions = {},
): Promise<HostCommandResult> {
  const { timeoutMs = 60_000, allowFailure = false, needStdout = false, env } = options;
  const argv = [command, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(env ? { env } : {}),
    });
    let stdout = '';
    let stderr = '';
    let exitCode: number | null = null;
    let settled = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

    const timer = setTimeout(() => {
      // Negative pid: the process group, so helpers it forked go too.
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      finish(
        new HostCommandError(argv, null, `${argv.join(' ')}: timed out after ${timeoutMs} ms`),
      );
    }, timeoutMs);

    function finish(error?: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      if (error) return reject(error);
      const result = { exitCode: exitCode ?? -1, stdout, stderr };
      if (result.exitCode !== 0 && !allowFailure) {
        return reject(
          new HostCommandError(
            argv,
            result,
            `${argv.join(' ')}: exit ${result.exitCode}: ${stderr.trim() || stdout.trim()}`,
          ),
        );
      }
      resolve(result);
    }

    child.on('error', (error: NodeJS.ErrnoException) =>
      finish(
        new HostCommandError(
          argv,
          null,
          error.code === 'ENOENT' ? `${command}: not installed` : `${command}: ${error.message}`,
        ),
      ),
    );
    child.on('exit', (code, signal) => {
      exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
      // On success without needing stdout, stop the clock now; on failure give
      // stderr a moment to arrive so the error says why.
      if (exitCode === 0 && !needStdout) finish();
      else setTimeout(() => finish(), 200).unref();
    });
    child.on('close', () => finish());
  });
}

/** Whether a command can be found on PATH (without running it). */
export async function haveCommand(command: string): Promise<boolean> {
  const result = await runHost('sh', ['-c', 'command -v "$1"', 'sh', command], {
    allowFailure: true,
    needStdout: true,
  });
  return result.exitCode === 0;
}
