import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { commandSidecarPid, retainCommandSidecar, spawnStreamed } from './command-sidecar.ts';
import { CommandError, runCommand } from './run-command.ts';

const T = { timeoutMs: 5_000 };

async function rejection(promise: Promise<unknown>): Promise<CommandError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CommandError);
    return error as CommandError;
  }
  throw new Error('expected the command to fail');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a process of the group is still running (zombies waiting for init do not count). */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid pgrp ...
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') return true;
    } catch {
      // gone
    }
  }
  return false;
}

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('runCommand through the sidecar', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'berth-sidecar-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('spawns from the sidecar, not from this process', async () => {
    const { stdout } = await runCommand('sh', ['-c', 'echo $PPID'], T);
    const sidecar = commandSidecarPid();
    expect(sidecar).toBeDefined();
    expect(Number(stdout)).toBe(sidecar);
    expect(sidecar).not.toBe(process.pid);
  });

  it('kills the whole process group on timeout', async () => {
    const pidFile = join(scratch, 'timeout.pid');
    const error = await rejection(
      runCommand('sh', ['-c', `echo $$ > ${pidFile}; sleep 10 & sleep 10`], { timeoutMs: 300 }),
    );
    expect(error.failure).toBe('timeout');
    const pgid = Number(readFileSync(pidFile, 'utf8'));
    await until(() => !groupAlive(pgid));
  });

  it('aborts, also before the sidecar has answered', async () => {
    const controller = new AbortController();
    const running = runCommand('sleep', ['10'], { ...T, signal: controller.signal });
    controller.abort();
    const error = await rejection(running);
    expect(error.failure).toBe('aborted');
    expect(error.message).toBe('sleep 10 was cancelled');
  });

  it('reports a missing binary as DRIVER_UNAVAILABLE, with the cause', async () => {
    const error = await rejection(runCommand('berth-no-such-binary', [], T));
    expect(error.code).toBe('DRIVER_UNAVAILABLE');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('keeps the output limit and carries large output and input', async () => {
    const limited = await rejection(
      runCommand('head', ['-c', '200000', '/dev/zero'], { ...T, maxOutputBytes: 100_000 }),
    );
    expect(limited.failure).toBe('output-limit');
    const big = await runCommand('head', ['-c', String(16 * 1024 * 1024), '/dev/zero'], T);
    expect(big.stdout.length).toBe(16 * 1024 * 1024);
    const input = Buffer.alloc(4 * 1024 * 1024, 'y');
    const echoed = await runCommand('wc', ['-c'], { ...T, input });
    expect(echoed.stdout.trim()).toBe(String(input.length));
  });

  it('resolves a relative cwd against this process', async () => {
    const { stdout } = await runCommand('pwd', [], { ...T, cwd: '.' });
    expect(stdout.trim()).toBe(process.cwd());
  });

  it('fails the calls of a sidecar that dies, kills their groups, and starts a new one', async () => {
    const pidFile = join(scratch, 'lost.pid');
    const running = runCommand('sh', ['-c', `echo $$ > ${pidFile}; sleep 10 & sleep 10`], T);
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    // The sidecar reports the pid just after spawning: let that message arrive.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const first = commandSidecarPid()!;
    process.kill(first, 'SIGKILL');
    const error = await rejection(running);
    expect(error.code).toBe('INTERNAL');
    expect(error.failure).toBe('runner');
    expect(error.message).toContain('command sidecar');
    await until(() => !groupAlive(Number(readFileSync(pidFile, 'utf8'))));

    const { stdout } = await runCommand('sh', ['-c', 'echo $PPID'], T);
    expect(Number(stdout)).not.toBe(first);
    expect(Number(stdout)).toBe(commandSidecarPid());
  });

  it('is stopped by the last release, and started again by the next call', async () => {
    await runCommand('true', [], T);
    const pid = commandSidecarPid()!;
    const releaseA = retainCommandSidecar();
    const releaseB = retainCommandSidecar();
    releaseA();
    expect(commandSidecarPid()).toBe(pid);
    releaseB();
    expect(commandSidecarPid()).toBeUndefined();
    await until(() => !alive(pid));
    await runCommand('true', [], T);
    expect(commandSidecarPid()).not.toBe(pid);
  });

  it('neither keeps a process alive nor outlives it', () => {
    const module = pathToFileURL(join(import.meta.dirname, 'command-sidecar.ts')).href;
    const script = `
      const m = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'run-command.ts')).href)});
      const s = await import(${JSON.stringify(module)});
      await m.runCommand('true', [], { timeoutMs: 5000 });
      console.log(s.commandSidecarPid());`;
    // Hanging (the sidecar keeping the process alive) ends in execFileSync's timeout error.
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        timeout: 10_000,
        encoding: 'utf8',
      },
    );
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    return until(() => !alive(pid));
  });
});

describe('spawnStreamed', () => {
  async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  it('streams stdin through, stdout and stderr back, and the exit status', async () => {
    const child = spawnStreamed('sh', ['-c', 'cat; echo err >&2; exit 3'], { env: {} });
    const input = Buffer.alloc(2 * 1024 * 1024, 'z');
    child.stdin.end(input);
    const [out, err, status] = await Promise.all([
      collect(child.stdout),
      collect(child.stderr),
      child.exited,
    ]);
    expect(out.equals(input)).toBe(true);
    expect(err.toString()).toBe('err\n');
    expect(status).toBe(3);
    expect(child.pid).toBeGreaterThan(0);
  });

  it('holds output back for a slow reader without losing any', async () => {
    const size = 8 * 1024 * 1024;
    const child = spawnStreamed('head', ['-c', String(size), '/dev/zero'], { env: {} });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Not read yet: the sidecar has paused the pipe, so far less than all of it is buffered here.
    expect(child.stdout.readableLength).toBeLessThan(size);
    expect((await collect(child.stdout)).length).toBe(size);
    expect(await child.exited).toBe(0);
  });

  it('rejects with DRIVER_UNAVAILABLE when the binary is missing', async () => {
    const child = spawnStreamed('berth-no-such-binary', [], { env: {} });
    await expect(child.exited).rejects.toMatchObject({ code: 'DRIVER_UNAVAILABLE' });
    expect(await child.spawned).toBeUndefined();
  });

  it('fails, ends its streams and kills its group when the sidecar dies', async () => {
    const child = spawnStreamed('sh', ['-c', 'echo up; sleep 10 & sleep 10'], { env: {} });
    const pgid = (await child.spawned)!;
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const ended = new Promise((resolve) => child.stdout.once('end', resolve));
    await until(() => output === 'up\n');
    process.kill(commandSidecarPid()!, 'SIGKILL');
    await expect(child.exited).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(child.exited).rejects.toThrow(
      `was killed by SIGKILL while running it; its process group ${pgid} was killed`,
    );
    await ended;
    expect(output).toBe('up\n');
    await until(() => !groupAlive(pgid));
    // Writing to it afterwards neither hangs nor throws.
    await new Promise<void>((resolve) => child.stdin.write('late', () => resolve()));
  });

  it('does not wait for a background child that keeps the pipes open', async () => {
    const child = spawnStreamed('sh', ['-c', 'sleep 30 & echo $!'], { env: {} });
    const background = Number((await collect(child.stdout)).toString().trim());
    expect(await child.exited).toBe(0);
    // The command has ended while its background child still holds the pipes.
    expect(alive(background)).toBe(true);
    process.kill(background, 'SIGKILL');
  });
});
