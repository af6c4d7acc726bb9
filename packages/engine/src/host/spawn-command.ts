// The body of runCommand (its semantics are documented in run-command.ts):
// spawns the command in the calling process. Only the command sidecar calls
// it; everything else goes through runCommand.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import {
  CommandError,
  formatCommand,
  type CommandFailure,
  type CommandResult,
  type RunCommandOptions,
} from './command-error.ts';

const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;
const DEFAULT_CLOSE_GRACE_MS = 200;
const STDERR_IN_MESSAGE = 2000;

function trimForMessage(stderr: string): string {
  const text = stderr.trim();
  if (text.length <= STDERR_IN_MESSAGE) return text;
  const half = STDERR_IN_MESSAGE / 2;
  return `${text.slice(0, half)}\n…\n${text.slice(-half)}`;
}

function signalNumber(signal: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[signal] ?? 0;
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    // The child leads its own process group (detached), so this reaches
    // everything it started that did not move itself elsewhere.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * runCommand in this process. The engine calls it through the sidecar
 * (run-command.ts); `onSpawn` hears the pid, which leads the command's group.
 */
export function spawnCommand(
  cmd: string,
  args: readonly string[],
  options: RunCommandOptions,
  onSpawn?: (pid: number) => void,
): Promise<CommandResult> {
  const commandLine = formatCommand(cmd, args);
  const fail = (
    code: 'INTERNAL' | 'DRIVER_UNAVAILABLE',
    message: string,
    failure: CommandFailure,
    result: CommandResult | null,
    cause?: unknown,
  ) => new CommandError(code, message, { command: cmd, args: [...args], failure, result, cause });

  if (cmd === '') {
    return Promise.reject(fail('INTERNAL', 'runCommand: empty command', 'spawn', null));
  }
  if (!(options.timeoutMs > 0) || !Number.isFinite(options.timeoutMs)) {
    return Promise.reject(
      fail('INTERNAL', `${commandLine}: timeoutMs must be a positive number`, 'spawn', null),
    );
  }
  if (options.signal?.aborted) {
    return Promise.reject(fail('INTERNAL', `${commandLine} was cancelled`, 'aborted', null));
  }

  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  // A plain record: web code augments ProcessEnv with a required NODE_ENV.
  const env: Record<string, string | undefined> =
    options.inheritEnv === false ? {} : { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }

  return new Promise<CommandResult>((resolve, reject) => {
    const started = performance.now();
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        cwd: options.cwd,
        env: env as NodeJS.ProcessEnv,
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        detached: true,
        windowsHide: true,
      });
    } catch (error) {
      // Synchronous refusals: a NUL byte in an argument, a bad option type.
      reject(
        fail(
          'INTERNAL',
          `cannot run ${commandLine}: ${(error as Error).message}`,
          'spawn',
          null,
          error,
        ),
      );
      return;
    }
    if (child.pid !== undefined) onSpawn?.(child.pid);

    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let stopReason: 'timeout' | 'aborted' | 'output-limit' | null = null;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;

    const stop = (reason: 'timeout' | 'aborted' | 'output-limit') => {
      if (stopReason !== null || exit !== null) return;
      stopReason = reason;
      killGroup(child);
    };
    const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
    const onAbort = () => stop('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const cleanup = () => {
      clearTimeout(timer);
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      options.signal?.removeEventListener('abort', onAbort);
    };

    child.stdout?.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxOutput) return stop('output-limit');
      out.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      errBytes += chunk.length;
      if (errBytes > maxOutput) return stop('output-limit');
      err.push(chunk);
    });

    child.on('error', (error: NodeJS.ErrnoException) => {
      // Spawning failed (the process never ran), or killing it failed.
      if (settled || exit !== null) return;
      settled = true;
      cleanup();
      if (error.code === 'ENOENT') {
        if (options.cwd !== undefined && !existsSync(options.cwd)) {
          reject(
            fail(
              'INTERNAL',
              `cannot run ${commandLine}: working directory ${options.cwd} does not exist`,
              'spawn',
              null,
              error,
            ),
          );
        } else {
          reject(
            fail(
              'DRIVER_UNAVAILABLE',
              `cannot run ${commandLine}: ${cmd} is not installed (ENOENT)`,
              'spawn',
              null,
              error,
            ),
          );
        }
        return;
      }
      reject(fail('INTERNAL', `cannot run ${commandLine}: ${error.message}`, 'spawn', null, error));
    });

    if (options.input !== undefined && child.stdin) {
      // A command may exit without reading its input: that is its answer, not ours to fail on.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }

    const finish = () => {
      if (settled || exit === null) return;
      settled = true;
      cleanup();
      child.stdout?.destroy();
      child.stderr?.destroy();

      const signal = exit.signal;
      const exitCode = exit.code ?? (signal ? 128 + signalNumber(signal) : 1);
      const result: CommandResult = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        exitCode,
        signal,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      };
      const stderr = trimForMessage(result.stderr);
      const suffix = stderr === '' ? '' : `: ${stderr}`;

      if (stopReason === 'timeout') {
        reject(
          fail(
            'INTERNAL',
            `${commandLine} timed out after ${options.timeoutMs} ms and was killed${suffix}`,
            'timeout',
            result,
          ),
        );
      } else if (stopReason === 'aborted') {
        reject(fail('INTERNAL', `${commandLine} was cancelled${suffix}`, 'aborted', result));
      } else if (stopReason === 'output-limit') {
        reject(
          fail(
            'INTERNAL',
            `${commandLine} wrote more than ${maxOutput} bytes and was killed`,
            'output-limit',
            result,
          ),
        );
      } else if (exitCode !== 0 && !options.allowFailure) {
        const how = signal ? `was killed by ${signal}` : `failed with exit code ${exitCode}`;
        reject(fail('INTERNAL', `${commandLine} ${how}${suffix}`, 'exit', result));
      } else {
        resolve(result);
      }
    };

    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Normally 'close' follows at once. A grandchild that kept our pipes
      // open must not hold the result hostage.
      graceTimer = setTimeout(finish, closeGraceMs);
    });
    child.on('close', (code, signal) => {
      exit ??= { code, signal };
      finish();
    });
  });
}
