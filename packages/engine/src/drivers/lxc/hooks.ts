// LXC hooks calling back into the engine (notes §5). Each hook appends one
// line to a spool file and exits: about 2 ms per hook, nothing blocks when
// the engine is down, and events arrive in order. The driver watches the
// spool and turns lines into instance events:
//   start-host → started; stop → stopping; post-stop → stopped (target
//   `reboot` when LXC restarts the container itself, so not final).
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from 'node:fs';
import path from 'node:path';
import type { InstanceHostEvent } from '../driver.ts';
import { parseContainerName } from './lxc-paths.ts';

/** Single-quoted for sh. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The hook script (lxc.hook.version = 1: everything arrives in environment variables). */
export function hookScript(spool: string): string {
  return `#!/bin/sh
# Written by Berth. LXC runs it for start-host, stop and post-stop; one line each.
# A spool made anew after rotation is root's only, as the engine's own.
umask 077
printf '%s %s %s %s\\n' "$LXC_NAME" "$LXC_HOOK_TYPE" "\${LXC_TARGET:-}" "\${LXC_PID:-}" >> ${shellQuote(spool)}
exit 0
`;
}

export interface HookLine {
  container: string;
  hook: string;
  target: string;
  pid: number | undefined;
}

export function parseHookLine(line: string): HookLine | undefined {
  const [container, hook, target = '', pid = ''] = line.trim().split(' ');
  if (!container || !hook) return undefined;
  return { container, hook, target, pid: /^[0-9]+$/.test(pid) ? Number(pid) : undefined };
}

export function hookEvent(line: HookLine): InstanceHostEvent | undefined {
  const id = parseContainerName(line.container);
  if (id === undefined) return undefined;
  const target = line.target === 'reboot' ? 'reboot' : 'stop';
  switch (line.hook) {
    case 'start-host':
      return { type: 'started', ...id };
    case 'stop':
      return { type: 'stopping', ...id, target };
    case 'post-stop':
      return { type: 'stopped', ...id, target };
    default:
      return undefined;
  }
}

/** Past this size the consumed spool is rotated away. */
const ROTATE_BYTES = 1024 * 1024;

/**
 * Tails the spool: reads new lines whenever the directory reports a change
 * (and on a slow timer, in case an inotify event is missed).
 */
export class HookSpool {
  readonly #spool: string;
  readonly #onLine: (line: HookLine) => void;
  #offset = 0;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #partial = '';

  constructor(spool: string, onLine: (line: HookLine) => void) {
    this.#spool = spool;
    this.#onLine = onLine;
  }

  /** Starts at the spool's end: what happened while the engine was down is reconciled from real state. */
  start(): void {
    if (!existsSync(this.#spool)) writeFileSync(this.#spool, '', { mode: 0o600 });
    this.#offset = statSync(this.#spool).size;
    this.#watcher = watch(path.dirname(this.#spool), (_event, file) => {
      if (file === null || file === path.basename(this.#spool)) this.poll();
    });
    this.#watcher.unref();
    this.#timer = setInterval(() => this.poll(), 1000);
    this.#timer.unref();
  }

  stop(): void {
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
    this.#watcher = undefined;
    this.#timer = undefined;
  }

  /** Reads and dispatches whatever was appended since the last call. */
  poll(): void {
    let fd: number;
    try {
      fd = openSync(this.#spool, 'r');
    } catch {
      return;
    }
    let size: number;
    try {
      size = fstatSync(fd).size;
      if (size < this.#offset) this.#offset = 0;
      if (size > this.#offset) {
        const buffer = Buffer.alloc(size - this.#offset);
        const read = readSync(fd, buffer, 0, buffer.length, this.#offset);
        this.#offset += read;
        this.#dispatch(buffer.subarray(0, read).toString('utf8'));
      }
    } finally {
      closeSync(fd);
    }
    if (this.#offset >= ROTATE_BYTES && this.#partial === '') this.#rotate();
  }

  #dispatch(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const raw of lines) {
      const line = parseHookLine(raw);
      if (line !== undefined) this.#onLine(line);
    }
  }

  #rotate(): void {
    // Hooks open the spool by name with >>: after the rename they make a new one.
    const old = `${this.#spool}.old`;
    try {
      renameSync(this.#spool, old);
    } catch {
      return;
    }
    const consumed = this.#offset;
    this.#offset = 0;
    // A hook may have appended between our read and the rename: read the rest.
    try {
      const fd = openSync(old, 'r');
      try {
        const size = fstatSync(fd).size;
        if (size > consumed) {
          const buffer = Buffer.alloc(size - consumed);
          readSync(fd, buffer, 0, buffer.length, consumed);
          this.#dispatch(buffer.toString('utf8'));
        }
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(old, { force: true });
    }
  }
}
