// The engine's side of the command sidecar: a small Node process, forked
// once and on demand, that spawns host commands for the engine. fork() copies
// the calling process's page tables, and the engine's (~270 MB, Prisma's
// WebAssembly engines) make every spawn cost ~12 ms more than the sidecar's.
//
// * runCommand calls are forwarded whole (the sidecar runs spawnCommand) and
//   their result or CommandError rebuilt here; an abort becomes a cancel;
// * streaming processes (exec) forward stdin, stdout, stderr and the exit,
//   with backpressure both ways;
// * the environment is resolved here, from the engine's process.env at the
//   time of the call, and sent whole;
// * when idle the sidecar holds nothing open: the child and its channel are
//   unref'd, so it never keeps the engine's event loop alive;
// * if the sidecar dies, calls in flight fail with INTERNAL (failure
//   `runner`) and their process groups, whose leaders' pids the sidecar
//   reported, are killed from here; the next call starts a new sidecar;
// * the sidecar exits when its channel closes, i.e. when the engine exits,
//   killing the process groups of the commands it was running.
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EngineError } from '../errors.ts';
import {
  CommandError,
  formatCommand,
  type CommandFailure,
  type CommandResult,
  type RunCommandOptions,
} from './command-error.ts';

/** An error crossing the channel, rebuilt on this side. */
export interface WireError {
  message: string;
  code?: string;
  failure?: CommandFailure;
  result?: CommandResult | null;
  cause?: { message: string; code?: string; errno?: number; syscall?: string; path?: string };
}

export type WireRunOptions = Omit<RunCommandOptions, 'signal'>;

export type ToSidecar =
  | { t: 'run'; id: number; cmd: string; args: string[]; options: WireRunOptions }
  | { t: 'cancel'; id: number }
  | {
      t: 'spawn';
      id: number;
      cmd: string;
      args: string[];
      env: Record<string, string>;
      cwd: string | undefined;
    }
  | { t: 'stdin'; id: number; data: Uint8Array | null }
  | { t: 'flow'; id: number; fd: 1 | 2; paused: boolean };

export type FromSidecar =
  | { t: 'ready' }
  | { t: 'pid'; id: number; pid: number }
  | { t: 'result'; id: number; result: CommandResult }
  | { t: 'error'; id: number; error: WireError }
  | { t: 'out'; id: number; fd: 1 | 2; data: Uint8Array | null }
  | { t: 'stdin-ack'; id: number }
  | { t: 'exit'; id: number; status: number };

/** A call in flight: what to do with the sidecar's messages about it. */
interface Call {
  pid?: number;
  onMessage(message: FromSidecar): void;
  /** The sidecar died. */
  onLost(reason: string): void;
}

const ENTRY = fileURLToPath(new URL('./command-sidecar-main.ts', import.meta.url));

function tsxLoader(): string {
  // Resolved here so the sidecar starts whatever the engine's cwd is.
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

class CommandSidecar {
  #child: ChildProcess | null = null;
  /** Messages posted before the sidecar said it is ready; null once it has. */
  #queue: ToSidecar[] | null = null;
  readonly #calls = new Map<number, Call>();
  #nextId = 1;

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  newId(): number {
    return this.#nextId++;
  }

  /** Registers a call and sends its first message, starting the sidecar if need be. */
  begin(id: number, call: Call, message: ToSidecar): void {
    this.#calls.set(id, call);
    try {
      this.#start();
    } catch (error) {
      this.#calls.delete(id);
      call.onLost(`the command sidecar could not be started: ${(error as Error).message}`);
      return;
    }
    this.#hold();
    this.post(message);
  }

  /** Sends a message about a call; dropped if the sidecar has died since (the call has failed). */
  post(message: ToSidecar): void {
    const child = this.#child;
    if (child === null) return;
    if (this.#queue !== null) this.#queue.push(message);
    else child.send(message, (error) => error && this.#lost(child, error.message));
  }

  finish(id: number): void {
    this.#calls.delete(id);
    if (this.#calls.size === 0) this.#release();
  }

  /** Stops the sidecar (engine.close()); the next call starts another. */
  stop(): void {
    const child = this.#child;
    if (child === null) return;
    this.#lost(child, 'was stopped (engine.close())');
    if (child.connected) child.disconnect();
  }

  #start(): void {
    if (this.#child !== null) return;
    const child = fork(ENTRY, [], {
      execArgv: ['--import', tsxLoader()],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    this.#queue = [];
    child.on('message', (message: FromSidecar) => {
      if (message.t === 'ready') {
        const queued = this.#queue ?? [];
        this.#queue = null;
        for (const early of queued) this.post(early);
        return;
      }
      const call = this.#calls.get(message.id);
      if (call === undefined) return;
      if (message.t === 'pid') call.pid = message.pid;
      call.onMessage(message);
    });
    // Gone once it has exited and its channel is closed: messages it sent
    // before dying (results) are still read.
    const gone = () => {
      if (child.connected || (child.exitCode === null && child.signalCode === null)) return;
      const { exitCode, signalCode } = child;
      this.#lost(
        child,
        signalCode ? `was killed by ${signalCode}` : `exited with code ${exitCode}`,
      );
    };
    child.on('exit', gone);
    child.on('disconnect', gone);
    child.on('error', (error) => this.#lost(child, `failed: ${error.message}`));
  }

  #lost(child: ChildProcess, reason: string): void {
    if (this.#child !== child) return;
    this.#child = null;
    this.#queue = null;
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) {
      if (call.pid !== undefined) {
        try {
          process.kill(-call.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      const fate =
        call.pid === undefined ? 'it had not started' : `its process group ${call.pid} was killed`;
      call.onLost(`the command sidecar (pid ${child.pid}) ${reason} while running it; ${fate}`);
    }
  }

  #hold(): void {
    this.#child?.ref();
    this.#child?.channel?.ref();
  }

  #release(): void {
    this.#child?.unref();
    this.#child?.channel?.unref();
  }
}

const sidecar = new CommandSidecar();

let holders = 0;

/**
 * An engine's hold on the sidecar, for engine.close(): the last release stops
 * it (calls still in flight fail); a later call starts a new one.
 */
export function retainCommandSidecar(): () => void {
  holders++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) sidecar.stop();
  };
}

/** The running sidecar's pid, for tests. */
export function commandSidecarPid(): number | undefined {
  return sidecar.pid;
}

/** The environment runCommand would give the command, from this process's. */
function commandEnv(options: {
  env?: Record<string, string | undefined>;
  inheritEnv?: boolean;
}): Record<string, string> {
  const env: Record<string, string | undefined> =
    options.inheritEnv === false ? {} : { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env as Record<string, string>;
}

function rebuildCause(cause: WireError['cause']): Error | undefined {
  if (cause === undefined) return undefined;
  return Object.assign(new Error(cause.message), {
    code: cause.code,
    errno: cause.errno,
    syscall: cause.syscall,
    path: cause.path,
  });
}

/** runCommand, run by the sidecar. */
export function runInSidecar(
  cmd: string,
  args: readonly string[],
  options: RunCommandOptions,
): Promise<CommandResult> {
  const fail = (
    code: 'INTERNAL' | 'DRIVER_UNAVAILABLE',
    message: string,
    failure: CommandFailure,
    result: CommandResult | null,
    cause?: unknown,
  ) => new CommandError(code, message, { command: cmd, args: [...args], failure, result, cause });
  if (options.signal?.aborted) {
    return Promise.reject(
      fail('INTERNAL', `${formatCommand(cmd, args)} was cancelled`, 'aborted', null),
    );
  }
  const { signal, env, inheritEnv, cwd, ...rest } = options;
  const wire: WireRunOptions = {
    ...rest,
    env: commandEnv({ env, inheritEnv }),
    inheritEnv: false,
    // The sidecar's cwd is the engine's when it started; a relative one is the engine's now.
    ...(cwd === undefined ? {} : { cwd: resolvePath(cwd) }),
  };
  return new Promise<CommandResult>((resolve, reject) => {
    const id = sidecar.newId();
    // Posted after the run (the sidecar's messages are ordered), which it cancels.
    const onAbort = () => sidecar.post({ t: 'cancel', id });
    const done = () => {
      signal?.removeEventListener('abort', onAbort);
      sidecar.finish(id);
    };
    const call: Call = {
      onMessage(message) {
        if (message.t === 'result') {
          done();
          resolve(message.result);
        } else if (message.t === 'error') {
          done();
          const { error } = message;
          reject(
            fail(
              error.code === 'DRIVER_UNAVAILABLE' ? 'DRIVER_UNAVAILABLE' : 'INTERNAL',
              error.message,
              error.failure ?? 'spawn',
              error.result ?? null,
              rebuildCause(error.cause),
            ),
          );
        }
      },
      onLost(reason) {
        signal?.removeEventListener('abort', onAbort);
        reject(fail('INTERNAL', `${formatCommand(cmd, args)}: ${reason}`, 'runner', null));
      },
    };
    sidecar.begin(id, call, { t: 'run', id, cmd, args: [...args], options: wire });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A process spawned by the sidecar whose pipes are streamed here. */
export interface StreamedProcess {
  /** 0 until the sidecar reports it. */
  readonly pid: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly stdin: Writable;
  /** The exit status (128 + n for signal n); rejects when it could not be spawned. */
  readonly exited: Promise<number>;
  /** Resolves with the pid once spawned (undefined if it never was). */
  readonly spawned: Promise<number | undefined>;
}

/**
 * Spawns a command in its own process group with stdin, stdout and stderr
 * as pipes, streamed over the channel. After the exit the pipes are waited
 * for at most a grace period (a background child may hold them).
 */
export function spawnStreamed(
  cmd: string,
  args: readonly string[],
  options: { env: Record<string, string | undefined>; cwd?: string },
): StreamedProcess {
  const id = sidecar.newId();
  let pid = 0;
  let resolveSpawned!: (pid: number | undefined) => void;
  const spawned = new Promise<number | undefined>((resolve) => (resolveSpawned = resolve));
  let settle!: { resolve: (status: number) => void; reject: (error: Error) => void };
  const exited = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  exited.catch(() => {});

  const paused = { 1: false, 2: false };
  const readable = (fd: 1 | 2) =>
    new Readable({
      read() {
        if (paused[fd]) {
          paused[fd] = false;
          sidecar.post({ t: 'flow', id, fd, paused: false });
        }
      },
    });
  const stdout = readable(1);
  const stderr = readable(2);
  const acks: (() => void)[] = [];
  let over = false;
  const stdin = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      // Like a pipe to an exited process whose EPIPE is ignored.
      if (over) return callback();
      acks.push(() => callback());
      sidecar.post({ t: 'stdin', id, data: chunk });
    },
    final(callback) {
      sidecar.post({ t: 'stdin', id, data: null });
      callback();
    },
  });
  stdin.on('error', () => {});
  const endStreams = () => {
    over = true;
    for (const stream of [stdout, stderr]) if (!stream.readableEnded) stream.push(null);
    for (const ack of acks.splice(0)) ack();
  };

  const call: Call = {
    onMessage(message) {
      switch (message.t) {
        case 'pid':
          pid = message.pid;
          resolveSpawned(pid);
          break;
        case 'out': {
          const stream = message.fd === 1 ? stdout : stderr;
          if (message.data === null) stream.push(null);
          else if (
            !stream.push(
              Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength),
            ) &&
            !paused[message.fd]
          ) {
            paused[message.fd] = true;
            sidecar.post({ t: 'flow', id, fd: message.fd, paused: true });
          }
          break;
        }
        case 'stdin-ack':
          acks.shift()?.();
          break;
        case 'exit':
          sidecar.finish(id);
          endStreams();
          resolveSpawned(pid || undefined);
          settle.resolve(message.status);
          break;
        case 'error':
          sidecar.finish(id);
          endStreams();
          resolveSpawned(undefined);
          settle.reject(
            new EngineError(
              message.error.code === 'ENOENT' ? 'DRIVER_UNAVAILABLE' : 'INTERNAL',
              `cannot run ${cmd}: ${message.error.message}`,
              { cause: rebuildCause(message.error.cause) },
            ),
          );
          break;
        default:
          break;
      }
    },
    onLost(reason) {
      endStreams();
      resolveSpawned(pid || undefined);
      settle.reject(new EngineError('INTERNAL', `${formatCommand(cmd, args)}: ${reason}`));
    },
  };
  sidecar.begin(id, call, {
    t: 'spawn',
    id,
    cmd,
    args: [...args],
    env: commandEnv({ env: options.env, inheritEnv: false }),
    cwd: options.cwd === undefined ? undefined : resolvePath(options.cwd),
  });
  return {
    get pid() {
      return pid;
    },
    stdout,
    stderr,
    stdin,
    exited,
    spawned,
  };
}
