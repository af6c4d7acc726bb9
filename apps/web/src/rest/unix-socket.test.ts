// The socket file's life: a stale one is replaced, a live one or a file of
// someone else's is never taken. Real sockets in a temporary directory.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listenUnixSocket, removeStaleSocket } from './unix-socket.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'berth-unix-socket-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('removeStaleSocket', () => {
  it('removes the socket of a server that died without cleaning up', async () => {
    const file = path.join(dir, 'unix.socket');
    // A process that listens, then is killed: its socket file stays behind.
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(file)}, () => console.log('up'))`,
    ]);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(existsSync(file)).toBe(true);
    await removeStaleSocket(file);
    expect(existsSync(file)).toBe(false);
  });

  it('refuses to take the socket of a live server, or a path that is no socket', async () => {
    const file = path.join(dir, 'unix.socket');
    const live = createServer();
    await new Promise<void>((resolve) => live.listen(file, resolve));
    await expect(removeStaleSocket(file)).rejects.toThrow(/another server is listening/);
    await new Promise((resolve) => live.close(resolve));

    const plain = path.join(dir, 'plain');
    await writeFile(plain, 'mine');
    await expect(removeStaleSocket(plain)).rejects.toThrow(/not a unix socket/);
    expect(existsSync(plain)).toBe(true);
    await removeStaleSocket(path.join(dir, 'absent'));
  });
});

describe('listenUnixSocket', () => {
  it('refuses a path longer than a socket address holds (Node would cut it silently)', async () => {
    const api = Object.assign(async () => {}, { upgrade: () => {} });
    await expect(listenUnixSocket(path.join(dir, 'x'.repeat(120)), api)).rejects.toThrow(
      /longer than a unix socket path/,
    );
  });
});
