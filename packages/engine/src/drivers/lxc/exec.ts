// Commands in a running container through lxc-attach (notes §6):
// * `--clear-env` always (lxc-attach otherwise hands over the engine's whole
//   environment), then `--set-var` for the defaults and the request's
//   variables; `lxc.environment` still applies;
// * lxc-attach has no cwd option: a cwd runs the command through
//   `sh -c 'cd "$1" && shift && exec "$@"'`; without one it is started from
//   `/`, which lxc-attach carries into the container;
// * non-interactive: plain pipes (lxc-attach makes no pty when stdin is not
//   a tty); interactive: node-pty, so lxc-attach allocates one inside.
//
// These processes stream for as long as the user wants, so they are not
// run through runCommand (which buffers output and needs a timeout); they
// keep its rules otherwise: argument arrays, no shell on the host, their own
// process group, a clean environment.
import { readFileSync, readdirSync } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { EngineError } from '../../errors.ts';
import { spawnStreamed } from '../../host/command-sidecar.ts';
import type { ExecProcess, ExecRequest } from '../driver.ts';
import { execEnvironmentList } from '../exec-environment.ts';

/** The host environment lxc-* commands run with: a PATH, nothing of the engine's. */
export const HOST_ENV: Record<string, string | undefined> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
};

const READY_TIMEOUT_MS = 2_000;

export const CWD_WRAPPER = 'cd "$1" && shift && exec "$@"';

/** The lxc-attach argument list for a request. */
export function attachArgs(container: string, lxcPath: string, request: ExecRequest): string[] {
  if (request.command.length === 0) throw EngineError.invalid('command', 'must not be empty');
  const args = ['-n', container, '-P', lxcPath, '--clear-env'];
  for (const variable of execEnvironmentList(request)) args.push('--set-var', variable);
  if (request.user !== undefined) args.push('--uid', String(request.user));
  if (request.group !== undefined) args.push('--gid', String(request.group));
  args.push('--');
  if (request.cwd !== undefined && request.cwd !== '') {
    args.push('/bin/sh', '-c', CWD_WRAPPER, 'sh', request.cwd);
  }
  args.push(...request.command);
  return args;
}

/**
 * The attached command is lxc-attach's child on the host (checked with
 * `ps --forest`); lxc-attach does not forward signals, and SIGKILL could not
 * be forwarded anyway. Falls back to lxc-attach itself while the child is
 * not forked yet.
 */
export function attachedChild(attachPid: number): number | undefined {
  try {
    const tasks = readdirSync(`/proc/${attachPid}/task`);
    for (const task of tasks) {
      const children = readFileSync(`/proc/${attachPid}/task/${task}/children`, 'utf8').trim();
      const first = children.split(' ')[0];
      if (first) return Number(first);
    }
  } catch {
    // gone
  }
  return undefined;
}

function signalAttached(attachPid: number, signal: NodeJS.Signals | number): void {
  const target = attachedChild(attachPid) ?? attachPid;
  try {
    process.kill(target, signal);
  } catch {
    // already gone
  }
}

/**
 * A non-interactive command: stdout, stderr and stdin as pipes. lxc-attach
 * is spawned by the command sidecar (host/command-sidecar.ts), whose fork is
 * ~12 ms cheaper than the engine's, and its pipes streamed over the channel.
 */
export function execPiped(container: string, lxcPath: string, request: ExecRequest): ExecProcess {
  const args = attachArgs(container, lxcPath, request);
  const child = spawnStreamed('lxc-attach', args, { env: HOST_ENV, cwd: '/' });
  let done = false;
  const exited = child.exited.finally(() => {
    done = true;
  });
  exited.catch(() => {});
  // Known stdin (ExecRequest.stdin): /dev/null's end at once, or the bytes then EOF.
  if (request.stdin === 'none') child.stdin.end();
  else if (request.stdin instanceof Uint8Array) child.stdin.end(request.stdin);
  return {
    get pid() {
      return child.pid;
    },
    stdout: child.stdout,
    stderr: child.stderr,
    stdin: child.stdin,
    wait: () => exited,
    signal(signal) {
      // The pid comes over the channel: a signal sent at once waits for it.
      void child.spawned.then((pid) => {
        if (pid !== undefined && !done) signalAttached(pid, signal);
      });
    },
    resize() {
      // No pty: nothing to resize.
    },
  };
}

/**
 * What the container's pty sent, from what node-pty's pty passed on. There
 * are two ptys: lxc-attach makes one in the container and relays it to the
 * tty it runs on, node-pty's, which it sets to "the same settings that ssh
 * does" with ONLCR forced on (LXC's lxc_setup_tios, 5.0.2), so each LF that
 * the inner pty already made CR LF gains another CR: `a\r\r\n`. It cannot be
 * turned off there: lxc-attach sets it on /dev/tty, not stdin, before it forks
 * the command, and without a tty it makes no pty at all. Output processing on
 * that tty is OPOST|ONLCR only (node-pty's flags and lxc-attach's), so
 * dropping the CR before each LF gives back the inner pty's bytes exactly,
 * whatever mode the program set on its own terminal.
 */
export class OnlcrUndo {
  #heldCr = false;

  /** A CR ends the text so far: it waits for the next chunk or `flush`. */
  get holding(): boolean {
    return this.#heldCr;
  }

  push(chunk: string): string {
    let text = this.#heldCr ? `\r${chunk}` : chunk;
    this.#heldCr = text.endsWith('\r');
    if (this.#heldCr) text = text.slice(0, -1);
    return text.replaceAll('\r\n', '\n');
  }

  flush(): string {
    const text = this.#heldCr ? '\r' : '';
    this.#heldCr = false;
    return text;
  }
}

/** An interactive command on a pty (node-pty), LXD's `interactive: true`. */
export async function execPty(
  container: string,
  lxcPath: string,
  request: ExecRequest,
): Promise<ExecProcess> {
  const size = request.interactive ?? { cols: 80, rows: 24 };
  const args = attachArgs(container, lxcPath, request);
  const pty = await import('node-pty');
  const term = pty.spawn('lxc-attach', args, {
    name: 'xterm-256color',
    cols: size.cols,
    rows: size.rows,
    cwd: '/',
    // A plain record: web code augments ProcessEnv with a required NODE_ENV.
    env: HOST_ENV as NodeJS.ProcessEnv,
  });
  const stdout = new PassThrough();
  let done = false;
  // lxc-attach puts its tty in raw mode with TCSAFLUSH, which drops what was
  // typed before: hold input until the command runs (lxc-attach has forked
  // it) or has printed something.
  let pending: (Buffer | string)[] | null = [];
  let hangUpPending = false;
  const release = () => {
    if (pending === null) return;
    const queued = pending;
    pending = null;
    clearInterval(poll);
    for (const chunk of queued) term.write(chunk);
    if (hangUpPending) hangUp();
  };
  // The end of input: LXD closes its pty, which hangs the command's terminal
  // up. SIGTERM makes lxc-attach do that (lxc_terminal_signalfd_cb detaches:
  // the container-side pty is closed), then wait for the command and exit
  // with its status, as LXD reports it. Its signalfd exists before the fork.
  const hangUp = () => {
    if (done) return;
    try {
      process.kill(term.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  const pollStarted = Date.now();
  const poll = setInterval(() => {
    if (attachedChild(term.pid) !== undefined || Date.now() - pollStarted > READY_TIMEOUT_MS)
      release();
  }, 5);
  const fromContainer = new OnlcrUndo();
  // A CR held at the end of a read goes out once this read burst is over
  // (the LF of a CR LF pair split across reads comes in the same burst).
  let flushHeld: NodeJS.Immediate | undefined;
  const flush = () => {
    flushHeld = undefined;
    const text = fromContainer.flush();
    if (text) stdout.write(text);
  };
  term.onData((data) => {
    release();
    const text = fromContainer.push(data);
    if (text) stdout.write(text);
    if (fromContainer.holding) flushHeld ??= setImmediate(flush);
  });
  const exited = new Promise<number>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      release();
      clearImmediate(flushHeld);
      flush();
      stdout.end();
      resolve(signal ? 128 + signal : exitCode);
    });
  });
  void exited.then(() => {
    done = true;
  });
  const stdin = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (done) return callback();
      if (pending !== null) pending.push(chunk);
      else term.write(chunk);
      callback();
    },
    final(callback) {
      if (pending !== null) hangUpPending = true;
      else hangUp();
      callback();
    },
  });
  return {
    pid: term.pid,
    stdout,
    stderr: null,
    stdin,
    wait: () => exited,
    signal(signal) {
      if (!done) signalAttached(term.pid, signal);
    },
    resize(cols, rows) {
      if (!done) term.resize(cols, rows);
    },
  };
}
