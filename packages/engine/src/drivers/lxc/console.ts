// The container's console (/dev/console, tty 0) as a pty stream (notes §8).
// lxc-console needs a tty on stdin, so it runs under node-pty. Its escape
// prefix is Ctrl+a: every 0x01 the user types is doubled (typed once), so a
// user can never detach us by accident; we detach with SIGTERM. Only one
// client can hold tty 0: a second attach is BUSY. The log is read as every
// driver's is (../console-log.ts).
import { PassThrough, Writable } from 'node:stream';
import { EngineError } from '../../errors.ts';
import type { ConsoleStream } from '../driver.ts';
import { HOST_ENV } from './exec.ts';

const PREFIX = 0x01;
const BANNER_END = 'to enter Ctrl+a itself\r\n';
const ATTACH_TIMEOUT_MS = 5_000;

/** Doubles the escape prefix so it reaches the container instead of lxc-console. */
export function escapeConsoleInput(data: Buffer): Buffer {
  if (!data.includes(PREFIX)) return data;
  const out: number[] = [];
  for (const byte of data) {
    out.push(byte);
    if (byte === PREFIX) out.push(byte);
  }
  return Buffer.from(out);
}

/** Drops lxc-console's banner ("Connected to tty 0 ... Ctrl+a itself") from the start of the output. */
export function stripBanner(text: string): { rest: string; done: boolean } {
  const at = text.indexOf(BANNER_END);
  if (at >= 0) return { rest: text.slice(at + BANNER_END.length), done: true };
  return { rest: text, done: false };
}

export async function attachConsole(
  container: string,
  lxcPath: string,
  size: { cols: number; rows: number },
): Promise<ConsoleStream> {
  const pty = await import('node-pty');
  const term = pty.spawn('lxc-console', ['-n', container, '-P', lxcPath, '-t', '0'], {
    name: 'xterm-256color',
    cols: size.cols,
    rows: size.rows,
    cwd: '/',
    env: HOST_ENV,
  });
  const output = new PassThrough();
  let closed = false;
  let head = '';
  let bannerSeen = false;
  let attached: () => void = () => {};
  let failed: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    attached = resolve;
    failed = reject;
  });

  term.onData((data) => {
    if (bannerSeen) {
      output.write(data);
      return;
    }
    head += data;
    const { rest, done } = stripBanner(head);
    if (done) {
      bannerSeen = true;
      attached();
      if (rest !== '') output.write(rest);
    }
  });
  term.onExit(({ exitCode }) => {
    closed = true;
    output.end();
    if (!bannerSeen) {
      const why = head.trim();
      failed(
        /Denied access to tty/i.test(why)
          ? new EngineError('BUSY', `The console of ${container} is already in use`)
          : new EngineError(
              'INTERNAL',
              `lxc-console exited with ${exitCode}: ${why || 'no output'}`,
            ),
      );
    }
  });

  const timer = setTimeout(() => {
    if (!bannerSeen && !closed) {
      term.kill('SIGKILL');
      failed(
        new EngineError(
          'INTERNAL',
          `lxc-console did not attach to ${container} within ${ATTACH_TIMEOUT_MS} ms`,
        ),
      );
    }
  }, ATTACH_TIMEOUT_MS);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }

  const input = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (!closed)
        term.write(escapeConsoleInput(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
      callback();
    },
  });
  return {
    output,
    input,
    resize(cols, rows) {
      if (!closed) term.resize(cols, rows);
    },
    close() {
      // SIGTERM makes lxc-console detach cleanly (rc 0).
      if (!closed) term.kill('SIGTERM');
    },
  };
}
