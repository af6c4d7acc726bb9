// An instance's console log, written by LXC's monitor or QEMU's chardev and
// read the same way for both: the newest part, and the file kept bounded.
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

/** Default cap of the console log; past it only the newest half is kept. */
export const CONSOLE_LOG_CAP = 1024 * 1024;

/**
 * Reads the console log (the newest `cap` bytes) and, when the file grew past
 * `cap`, cuts it down to its newest half. The monitor writes it with
 * O_APPEND, so truncating under it is safe.
 */
export function readConsoleLog(file: string, cap = CONSOLE_LOG_CAP): string {
  let fd: number;
  try {
    fd = openSync(file, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, cap);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    if (size > cap) {
      const keep = buffer.subarray(length - Math.floor(cap / 2));
      ftruncateSync(fd, 0);
      writeSync(fd, keep, 0, keep.length, 0);
    }
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}
