// What runCommand takes, returns and throws: shared by the engine-side
// forwarder (run-command.ts), the in-process spawner (spawn-command.ts) and
// the sidecar that runs it (command-sidecar-main.ts).
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

/**
 * `runner`: the command sidecar died while the command ran, so its outcome is
 * unknown (its process group was killed).
 */
export type CommandFailure = 'exit' | 'timeout' | 'aborted' | 'output-limit' | 'spawn' | 'runner';

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

/** `cmd arg 'arg with space'`: for messages and logs only, never executed. */
export function formatCommand(cmd: string, args: readonly string[] = []): string {
  return [cmd, ...args]
    .map((word) =>
      word !== '' && /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`,
    )
    .join(' ');
}
