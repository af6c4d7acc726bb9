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

/** The host environment lxc-* commands run with: a PATH, nothing of the engine's. */
export const HOST_ENV: Record<string, string | undefined> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
};

/** What LXD's exec sets unless the request does (lxd/instance_exec.go). */
export function execEnvironment(request: ExecRequest): Record<string, string> {
  const uid = request.user ?? 0;
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
  };
  if (uid === 0) {
    env.HOME = '/root';
    env.USER = 'root';
  }
  if (request.interactive) env.TERM = 'xterm-256color';
  return { ...env, ...(request.environment ?? {}) };
}

const READY_TIMEOUT_MS = 2_000;

export const CWD_WRAPPER = 'cd "$1" && shift && exec "$@"';

/** The lxc-attach argument list for a request. */
export function attachArgs(container: string, lxcPath: string, request: ExecRequest): string[] {
  if (request.command.length === 0) throw EngineError.invalid('command', 'must not be empty');
  const args = ['-n', container, '-P', lxcPath, '--clear-env'];
  for (const [key, value] of Object.entries(execEnvironment(request))) {
    if (key === '' || key.includes('=') || key.includes('\0') || value.includes('\0')) {
      throw EngineError.invalid(`environment["${key}"]`, 'not a valid environment variable');
    }
    args.push('--set-var', `${key}=${value}`);
  }
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
  // lxc-attach puts its tty in raw mode with TCSAFLUSH, which drops what was
  // typed before: hold input until the command runs (lxc-attach has forked
  // it) or has printed something.
  let pending: (Buffer | string)[] | null = [];
  const release = () => {
    if (pending === null) return;
    const queued = pending;
    pending = null;
    clearInterval(poll);
    for (const chunk of queued) term.write(chunk);
  };
  const pollStarted = Date.now();
  const poll = setInterval(() => {
    if (attachedChild(term.pid) !== undefined || Date.now() - pollStarted > READY_TIMEOUT_MS)
      release();
  }, 5);
  term.onData((data) => {
    release();
    stdout.write(data);
  });
  const exited = new Promise<number>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      release();
      stdout.end();
      resolve(signal ? 128 + signal : exitCode);
    });
  });
  let done = false;
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
