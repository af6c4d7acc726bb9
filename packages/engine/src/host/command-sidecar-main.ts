// The command sidecar itself (see command-sidecar.ts): forked by the engine,
// it spawns what the engine asks over the IPC channel and reports back. It
// lives exactly as long as the channel: SIGINT/SIGTERM, which a terminal or
// a service manager sends to the engine's whole group, are the engine's to
// act on; when the channel closes (the engine exited or stopped it) the
// sidecar kills the process groups of the commands still running and exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { CommandError } from './command-error.ts';
import type { FromSidecar, ToSidecar, WireError } from './command-sidecar.ts';
import { spawnCommand } from './spawn-command.ts';

const CLOSE_GRACE_MS = 200;

/** Process-group leaders still running, by call id. */
const groups = new Map<number, number>();
const cancels = new Map<number, AbortController>();
const streamed = new Map<number, ChildProcess>();

function send(message: FromSidecar): void {
  if (process.connected) process.send?.(message);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function wireCause(cause: unknown): WireError['cause'] {
  if (!(cause instanceof Error)) return undefined;
  const errno = cause as NodeJS.ErrnoException;
  return {
    message: errno.message,
    code: errno.code,
    errno: errno.errno,
    syscall: errno.syscall,
    path: errno.path,
  };
}

function run(message: Extract<ToSidecar, { t: 'run' }>): void {
  const { id } = message;
  const controller = new AbortController();
  cancels.set(id, controller);
  spawnCommand(
    message.cmd,
    message.args,
    { ...message.options, signal: controller.signal },
    (pid) => {
      groups.set(id, pid);
      send({ t: 'pid', id, pid });
    },
  )
    .then(
      (result) => send({ t: 'result', id, result }),
      (error: unknown) => {
        const wire: WireError =
          error instanceof CommandError
            ? {
                message: error.message,
                code: error.code,
                failure: error.failure,
                result: error.result,
                cause: wireCause(error.cause),
              }
            : { message: String(error) };
        send({ t: 'error', id, error: wire });
      },
    )
    .finally(() => {
      cancels.delete(id);
      groups.delete(id);
    });
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return signal ? 128 + ((osConstants.signals as Record<string, number>)[signal] ?? 0) : 1;
}

function spawnPiped(message: Extract<ToSidecar, { t: 'spawn' }>): void {
  const { id } = message;
  let child: ChildProcess;
  try {
    child = spawn(message.cmd, message.args, {
      cwd: message.cwd,
      env: message.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (error) {
    send({ t: 'error', id, error: { message: (error as Error).message, cause: wireCause(error) } });
    return;
  }
  streamed.set(id, child);
  if (child.pid !== undefined) {
    groups.set(id, child.pid);
    send({ t: 'pid', id, pid: child.pid });
  }
  let done = false;
  const finish = (report: FromSidecar) => {
    if (done) return;
    done = true;
    streamed.delete(id);
    groups.delete(id);
    send(report);
  };
  for (const [fd, stream] of [
    [1, child.stdout],
    [2, child.stderr],
  ] as const) {
    stream?.on('data', (data: Buffer) => send({ t: 'out', id, fd, data }));
    stream?.on('end', () => send({ t: 'out', id, fd, data: null }));
  }
  child.stdin?.on('error', () => {});
  child.once('error', (error: NodeJS.ErrnoException) =>
    finish({
      t: 'error',
      id,
      error: { message: error.message, code: error.code, cause: wireCause(error) },
    }),
  );
  // Normally 'close' follows 'exit' at once; a background process started by
  // the command may keep the pipes open, which must not hold the exit.
  let grace: NodeJS.Timeout | undefined;
  child.once('exit', (code, signal) => {
    grace = setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish({ t: 'exit', id, status: exitStatus(code, signal) });
    }, CLOSE_GRACE_MS);
  });
  child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
    if (grace !== undefined) clearTimeout(grace);
    finish({ t: 'exit', id, status: exitStatus(code, signal) });
  });
}

process.on('message', (message: ToSidecar) => {
  switch (message.t) {
    case 'run':
      run(message);
      break;
    case 'cancel':
      cancels.get(message.id)?.abort();
      break;
    case 'spawn':
      spawnPiped(message);
      break;
    case 'stdin': {
      const stdin = streamed.get(message.id)?.stdin;
      if (!stdin || stdin.destroyed || stdin.writableEnded) {
        if (message.data !== null) send({ t: 'stdin-ack', id: message.id });
      } else if (message.data === null) {
        stdin.end();
      } else {
        // Acked once written (or failed: a command may stop reading), which paces the engine.
        stdin.write(message.data, () => send({ t: 'stdin-ack', id: message.id }));
      }
      break;
    }
    case 'flow': {
      const child = streamed.get(message.id);
      const stream = message.fd === 1 ? child?.stdout : child?.stderr;
      if (message.paused) stream?.pause();
      else stream?.resume();
      break;
    }
  }
});

process.on('disconnect', () => {
  for (const pid of groups.values()) killGroup(pid);
  process.exit(0);
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});

send({ t: 'ready' });
