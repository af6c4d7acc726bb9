// Commands in a VM through the guest agent (guest-exec + guest-exec-status).
// QGA takes a command's stdin only whole, up front (input-data), and hands
// its output back only once it exited. So a command whose stdin is known at
// start (none, LXD's /dev/null for exec without websockets, or bytes given
// whole) is one guest-exec: the command itself when no cwd is asked (QGA
// searches the request's PATH), through a small `sh -c` that changes
// directory otherwise, and through the shell too when QGA cannot spawn it
// (a missing or non-executable command: the shell's exit code 127/126 and
// message, as every exec through the shell gives).
// Callers that stream stdin as they go (`lxc exec` forwards it until EOF,
// and some never end it) get it through a FIFO in the guest: the command is
// started as
//   sh -c '<cd>; mkfifo F; exec <F; rm -f F; exec "$@"' sh F DIR cmd...
// (the shell opens the FIFO as its stdin, unlinks it and becomes the
// command, keeping the pid guest-exec reported, so signals reach it), and the
// engine opens F through guest-file-open ("r+": a FIFO opened read-write
// never blocks the single-threaded agent) and writes stdin with
// guest-file-write as it arrives, closing it at the caller's EOF or when the
// command exits, but never before the wrapper has the FIFO open (it unlinks
// it then): a FIFO's last writer gone before its reader came leaves the
// reader's open waiting for ever (the hang of a fast `lxc exec` whose stdin
// ended at once). A FIFO not opened in FIFO_WAIT_MS (through reconnects of
// the agent's channel) leaves the wrapper waiting on it for ever: the
// command is killed then, so the exec ends (137) rather than hangs. Output arrives at the end (QGA keeps up to 16 MiB of each).
// The agent is asked whether the command exited soon after it started and
// then less and less often (pollDelays): most commands are short, and each
// question is one small round trip on the agent's channel.
// Interactive commands (a pty) take another channel: agent-pty.ts.
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { EngineError, isEngineError } from '../../errors.ts';
import { sleep } from '../driver-common.ts';
import type { ExecProcess, ExecRequest } from '../driver.ts';
import { execEnvironmentList } from '../exec-environment.ts';
import { QgaError, type QgaClient } from './qga-client.ts';

/** How the driver hands out its (shared, re-synced) agent connection. */
export type AgentAccess = () => Promise<QgaClient>;

export const EXEC_WRAPPER =
  'f=$1; d=$2; shift 2; if [ -n "$d" ]; then cd "$d" || exit 126; fi; ' +
  'mkfifo -m 600 "$f" || exit 126; exec <"$f"; rm -f "$f"; exec "$@"';

/** The wrapper without a FIFO: stdin is what guest-exec gave (nothing, or input-data). */
export const EXEC_CD_WRAPPER =
  'd=$1; shift; if [ -n "$d" ]; then cd "$d" || exit 126; fi; exec "$@"';

/** Raw writes per guest-file-write (base64 makes 64 KiB of it). */
const WRITE_CHUNK = 48 * 1024;
/** How long the wrapper may take to make its FIFO before stdin is given up. */
const FIFO_WAIT_MS = 30_000;
/** How often the stdin feeder looks at `exited` while the caller sends nothing. */
const STDIN_IDLE_MS = 500;

/**
 * Waits between questions to the agent: 2 ms first (a short command has
 * often exited by then), growing by half each time to at most `capMs`, so a
 * long command costs a few questions a second.
 */
export function* pollDelays(firstMs = 2, capMs = 100): Generator<number, never> {
  let delay = firstMs;
  for (;;) {
    yield delay;
    delay = Math.min(capMs, Math.ceil(delay * 1.5));
  }
}

export interface GuestExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
  'out-truncated'?: boolean;
  'err-truncated'?: boolean;
}

/** What QGA cannot do for any command: another user; an empty command. */
function checkRequest(request: ExecRequest): void {
  if (request.command.length === 0) throw EngineError.invalid('command', 'must not be empty');
  for (const id of ['user', 'group'] as const) {
    const value = request[id];
    if (value !== undefined && value !== 0) {
      throw new EngineError(
        'NOT_IMPLEMENTED',
        `${id}: commands in a VM run as root through qemu-guest-agent (no ${id} switch yet)`,
        { field: id },
      );
    }
  }
}

/** guest-exec's arguments for a request (stdin through `fifo`). */
export function guestExecArgs(request: ExecRequest, fifo: string): Record<string, unknown> {
  checkRequest(request);
  const env = execEnvironmentList(request);
  return {
    path: '/bin/sh',
    arg: ['-c', EXEC_WRAPPER, 'sh', fifo, request.cwd ?? '', ...request.command],
    env,
    'capture-output': true,
  };
}

/**
 * guest-exec's arguments for a request whose stdin is known at start:
 * `direct` (the command itself; absent when a cwd needs the shell) and
 * `shell` (through EXEC_CD_WRAPPER), both with `input` as input-data.
 */
export function guestExecPlan(
  request: ExecRequest,
  input?: Uint8Array,
): { direct?: Record<string, unknown>; shell: Record<string, unknown> } {
  checkRequest(request);
  const [path, ...arg] = request.command as [string, ...string[]];
  const common = {
    env: execEnvironmentList(request),
    'capture-output': true,
    ...(input && input.length > 0 ? { 'input-data': Buffer.from(input).toString('base64') } : {}),
  };
  return {
    ...(request.cwd ? {} : { direct: { path, arg, ...common } }),
    shell: {
      path: '/bin/sh',
      arg: ['-c', EXEC_CD_WRAPPER, 'sh', request.cwd ?? '', ...request.command],
      ...common,
    },
  };
}

/** Signal numbers as the guest's `kill` takes them (Linux x86). */
const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGWINCH: 28,
};

/** A signal's number in the guest, from a name or a number; undefined when unknown. */
export function signalNumber(signal: NodeJS.Signals | number): number | undefined {
  return typeof signal === 'number' ? signal : SIGNALS[signal];
}

/** An exit status as a shell reports it: the code, or 128 + the signal that ended it. */
export function exitCodeOf(status: GuestExecStatus): number {
  if (status.signal !== undefined && status.signal > 0) return 128 + status.signal;
  return status.exitcode ?? -1;
}

/** Asks guest-exec-status until the command exited (pollDelays between). */
async function waitExited(agent: AgentAccess, pid: number): Promise<GuestExecStatus> {
  const delays = pollDelays();
  for (;;) {
    await sleep(delays.next().value);
    const status = await (await agent()).execute<GuestExecStatus>('guest-exec-status', { pid });
    if (status.exited) return status;
  }
}

/** Starts a command whose stdin is known now: the command itself, else through the shell. */
async function spawnKnownStdin(
  agent: AgentAccess,
  request: ExecRequest,
  input: Uint8Array | undefined,
): Promise<number> {
  const plan = guestExecPlan(request, input);
  const client = await agent();
  if (plan.direct) {
    try {
      return (await client.execute<{ pid: number }>('guest-exec', plan.direct)).pid;
    } catch (error) {
      // QGA could not spawn it (nothing ran): the shell says why, with its exit code.
      if (!(error instanceof QgaError)) throw error;
    }
  }
  return (await (await agent()).execute<{ pid: number }>('guest-exec', plan.shell)).pid;
}

export async function execThroughAgent(
  agent: AgentAccess,
  request: ExecRequest,
): Promise<ExecProcess> {
  const mode = request.stdin ?? 'stream';
  const streamed = mode === 'stream';
  const fifo = `/tmp/.berth-stdin-${randomBytes(8).toString('hex')}`;
  let pid: number;
  if (streamed) {
    const args = guestExecArgs(request, fifo);
    ({ pid } = await (await agent()).execute<{ pid: number }>('guest-exec', args));
  } else {
    pid = await spawnKnownStdin(agent, request, mode === 'none' ? undefined : mode);
  }

  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const pending: Buffer[] = [];
  let stdinEnded = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  // Known stdin: what is written here has nowhere to go and is dropped.
  const stdin = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (streamed) pending.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      poke();
      callback();
    },
    final(callback) {
      stdinEnded = true;
      poke();
      callback();
    },
  });
  let exited = false;

  /** stdin's bytes into the FIFO until EOF or exit. */
  const feedStdin = async () => {
    let handle: number | undefined;
    const deadline = Date.now() + FIFO_WAIT_MS;
    const delays = pollDelays(2, 50);
    while (handle === undefined && !exited && Date.now() < deadline) {
      try {
        handle = await (
          await agent()
        ).execute<number>('guest-file-open', {
          path: fifo,
          mode: 'r+',
        });
      } catch (error) {
        // The wrapper has not made it yet, or the agent's connection is being made again.
        if (!(error instanceof QgaError) && !isEngineError(error, 'CONFLICT')) throw error;
        await sleep(delays.next().value);
      }
    }
    if (handle === undefined) {
      // Never opened: the wrapper waits on the FIFO for ever. Ended, so the caller hears of it.
      if (!exited) await killInGuest(agent, pid, 9);
      return;
    }
    if (handle === undefined) return;
    try {
      for (;;) {
        const chunk = pending.shift();
        if (chunk) {
          await writeAll(agent, handle, chunk, () => exited);
          continue;
        }
        if (stdinEnded || exited) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
          // Also look at `exited` now and then.
          setTimeout(resolve, STDIN_IDLE_MS);
        });
      }
    } finally {
      // Ours may be the FIFO's only writer: closed before the wrapper opened
      // it, the wrapper's open would wait for a writer for ever (and what was
      // written would be lost). The wrapper unlinks the FIFO once it has it.
      if (!exited) await fifoTaken(agent, fifo, () => exited).catch(() => {});
      await (await agent()).execute('guest-file-close', { handle }).catch(() => {});
    }
  };

  const waitExit = (async (): Promise<number> => {
    const feeding = streamed ? feedStdin().catch(() => {}) : Promise.resolve();
    try {
      const status = await waitExited(agent, pid);
      exited = true;
      poke();
      stdout.end(Buffer.from(status['out-data'] ?? '', 'base64'));
      stderr.end(Buffer.from(status['err-data'] ?? '', 'base64'));
      await feeding;
      return exitCodeOf(status);
    } catch (error) {
      exited = true;
      poke();
      stdout.end();
      stderr.end();
      throw error;
    }
  })();
  // Nobody may be waiting yet: an agent that goes away must not crash the engine.
  waitExit.catch(() => {});

  return {
    pid,
    stdout,
    stderr,
    stdin,
    wait: () => waitExit,
    signal(signal) {
      const number = signalNumber(signal);
      if (number === undefined || exited) return;
      void killInGuest(agent, pid, number);
    },
    resize() {},
  };
}

/**
 * Resolves once the wrapper has opened the FIFO (it unlinks it right after):
 * while the path still opens ("r+" never blocks), the probe is closed and
 * asked again; at most FIFO_WAIT_MS, or until `stop()`.
 */
async function fifoTaken(agent: AgentAccess, fifo: string, stop: () => boolean): Promise<void> {
  const deadline = Date.now() + FIFO_WAIT_MS;
  const delays = pollDelays(2, 50);
  while (!stop() && Date.now() < deadline) {
    let probe: number;
    try {
      probe = await (await agent()).execute<number>('guest-file-open', { path: fifo, mode: 'r+' });
    } catch (error) {
      if (error instanceof QgaError) return; // gone: the wrapper has it
      throw error;
    }
    await (await agent()).execute('guest-file-close', { handle: probe }).catch(() => {});
    await sleep(delays.next().value);
  }
}

/** Sends `signal` to a guest process (best effort: the agent may be gone). */
async function killInGuest(agent: AgentAccess, pid: number, signal: number): Promise<void> {
  await agent()
    .then((c) => c.execute('guest-exec', { path: '/bin/kill', arg: [`-${signal}`, String(pid)] }))
    .catch(() => {});
}

/** Writes and flushes all of `chunk`; a full FIFO (the agent writes non-blocking) is retried. */
async function writeAll(
  agent: AgentAccess,
  handle: number,
  chunk: Buffer,
  stop: () => boolean,
): Promise<void> {
  let at = 0;
  let delays = pollDelays(2, STDIN_IDLE_MS);
  while (at < chunk.length && !stop()) {
    const part = chunk.subarray(at, at + WRITE_CHUNK);
    const client = await agent();
    let count = 0;
    try {
      ({ count } = await client.execute<{ count: number }>('guest-file-write', {
        handle,
        'buf-b64': part.toString('base64'),
      }));
      await client.execute('guest-file-flush', { handle });
    } catch (error) {
      if (!(error instanceof QgaError)) throw error;
    }
    if (count > 0) {
      at += count;
      delays = pollDelays(2, STDIN_IDLE_MS);
    } else {
      await sleep(delays.next().value);
    }
  }
}

/** Runs a short helper command to completion (no stdin): exit code and output. */
export async function runInGuest(
  agent: AgentAccess,
  argv: [string, ...string[]],
): Promise<{ exitCode: number; stdout: Buffer; stderr: string }> {
  const client = await agent();
  const { pid } = await client.execute<{ pid: number }>('guest-exec', {
    path: argv[0],
    arg: argv.slice(1),
    'capture-output': true,
  });
  const status = await waitExited(agent, pid);
  return {
    exitCode: exitCodeOf(status),
    stdout: Buffer.from(status['out-data'] ?? '', 'base64'),
    stderr: Buffer.from(status['err-data'] ?? '', 'base64').toString('utf8'),
  };
}
