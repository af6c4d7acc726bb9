// The one way the engine runs a host command (lxc-*, ip, dnsmasq, nft, tar,
// qemu-img, ...). Argument arrays only: nothing is ever parsed by a shell, so
// an instance name or a path cannot become shell syntax.
//
// Semantics are execFile's, with what a daemon that manages other daemons
// needs on top:
// * every call has a timeout; on timeout (or abort) the command's whole
//   process group is killed with SIGKILL, so `sh -c '...'` and its children
//   go too, and nothing keeps our pipes open;
// * stdin is /dev/null unless `input` is given (an `lxc-attach` must never
//   read the engine's own stdin);
// * the result is taken when the process has exited and its pipes are
//   closed, but a child that daemonises and keeps the pipes (a background
//   `&` in a script) does not hang the call: after the exit we wait at most
//   `closeGraceMs` for the pipes, then stop reading;
// * failures throw EngineError: DRIVER_UNAVAILABLE when the binary is not
//   installed (ENOENT), INTERNAL otherwise, with the command line and the
//   trimmed stderr in the message.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { EngineError } from '../errors.ts';

export interface RunCommandOptions {
  /** Hard bound on the run; the process group is SIGKILLed when it passes. */
  timeoutMs: number;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
  /**
   * Variables added to the engine's environment (`undefined` removes one).
   * With `inheritEnv: false` the command gets only these.
   */
  env?: Record<string, string | undefined>;
  inheritEnv?: boolean;
  cwd?: string;
  /** Resolve with the result on a non-zero exit (or death by signal) instead of throwing. */
  allowFailure?: boolean;
  /** Cancels the run: the process group is killed and the call throws. */
  signal?: AbortSignal;
  /** Per stream; more output kills the command and throws. Default 64 MiB. */
  maxOutputBytes?: number;
  /** How long to wait for stdout/stderr to close after the process exited. Default 200 ms. */
  closeGraceMs?: number;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** The exit status; 128 + signal number when the process died of a signal (shell convention). */
  exitCode: number;
  /** The signal that ended the process, if one did. */
  signal: NodeJS.Signals | null;
  durationMs: number;
}

export type CommandFailure = 'exit' | 'timeout' | 'aborted' | 'output-limit' | 'spawn';

/** What a failed run throws. It is an EngineError, with the run's details attached. */
export class CommandError extends EngineError {
  readonly command: string;
  readonly args: readonly string[];
  readonly failure: CommandFailure;
  /** Null when the process never ran. */
  readonly result: CommandResult | null;

  constructor(
    code: 'INTERNAL' | 'DRIVER_UNAVAILABLE',
    message: string,
    details: {
      command: string;
      args: readonly string[];
      failure: CommandFailure;
      result: CommandResult | null;
      cause?: unknown;
    },
  ) {
    super(code, message, details.cause === undefined ? {} : { cause: details.cause });
    this.command = details.command;
    this.args = details.args;
    this.failure = details.failure;
    this.result = details.result;
  }
}

const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;
const DEFAULT_CLOSE_GRACE_MS = 200;
const STDERR_IN_MESSAGE = 2000;

/** `cmd arg 'arg with space'`: for messages and logs only, never executed. */
export function formatCommand(cmd: string, args: readonly string[] = []): string {
  return [cmd, ...args]
    .map((word) =>
      word !== '' && /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`,
    )
    .join(' ');
}

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

export function runCommand(
  cmd: string,
  args: readonly string[],
  options: RunCommandOptions,
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
