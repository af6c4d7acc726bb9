import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineError, isEngineError } from '../errors.ts';
import { CommandError, formatCommand, runCommand } from './run-command.ts';

const T = { timeoutMs: 5_000 };

async function rejection(promise: Promise<unknown>): Promise<CommandError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toBeInstanceOf(EngineError);
    return error as CommandError;
  }
  throw new Error('expected the command to fail');
}

describe('runCommand', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'berth-run-command-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('runs a command that succeeds', async () => {
    const result = await runCommand('true', [], T);
    expect(result).toMatchObject({ stdout: '', stderr: '', exitCode: 0, signal: null });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('passes arguments verbatim, never through a shell', async () => {
    const tricky = ['a b', '$(echo no)', '; rm -rf /', "it's", '*', ''];
    const result = await runCommand('printf', ['%s\\n', ...tricky], T);
    expect(result.stdout).toBe(tricky.map((word) => `${word}\n`).join(''));
  });

  it('throws INTERNAL on a non-zero exit', async () => {
    const error = await rejection(runCommand('false', [], T));
    expect(error.code).toBe('INTERNAL');
    expect(error.failure).toBe('exit');
    expect(error.result?.exitCode).toBe(1);
    expect(error.message).toBe('false failed with exit code 1');
  });

  it('puts the command and the trimmed stderr in the message', async () => {
    const error = await rejection(runCommand('sh', ['-c', 'echo x >&2; exit 3'], T));
    expect(isEngineError(error, 'INTERNAL')).toBe(true);
    expect(error.message).toBe(`sh -c 'echo x >&2; exit 3' failed with exit code 3: x`);
    expect(error.result).toMatchObject({ stdout: '', stderr: 'x\n', exitCode: 3 });
    expect(error.command).toBe('sh');
    expect(error.args).toEqual(['-c', 'echo x >&2; exit 3']);
  });

  it('returns the result instead of throwing with allowFailure', async () => {
    const result = await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3'], {
      ...T,
      allowFailure: true,
    });
    expect(result).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exitCode: 3, signal: null });
  });

  it('reports death by signal as 128 + n', async () => {
    const result = await runCommand('sh', ['-c', 'kill -9 $$'], { ...T, allowFailure: true });
    expect(result).toMatchObject({ exitCode: 137, signal: 'SIGKILL' });
    const error = await rejection(runCommand('sh', ['-c', 'kill -TERM $$'], T));
    expect(error.message).toContain('was killed by SIGTERM');
  });

  it('throws DRIVER_UNAVAILABLE when the binary is missing', async () => {
    const error = await rejection(runCommand('berth-no-such-binary', ['-x'], T));
    expect(error.code).toBe('DRIVER_UNAVAILABLE');
    expect(error.failure).toBe('spawn');
    expect(error.result).toBeNull();
    expect(error.message).toContain('berth-no-such-binary -x');
    expect(error.code).toBe('DRIVER_UNAVAILABLE');
  });

  it('says so when the working directory is missing, rather than blaming the binary', async () => {
    const error = await rejection(runCommand('true', [], { ...T, cwd: join(scratch, 'nope') }));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain('working directory');
  });

  it('kills the command, and its children, on timeout', async () => {
    // sh waits for sleep: killing only sh would leave sleep holding our pipes.
    const error = await rejection(
      runCommand('sh', ['-c', 'echo before; sleep 5; echo after'], { timeoutMs: 300 }),
    );
    expect(error.code).toBe('INTERNAL');
    expect(error.failure).toBe('timeout');
    expect(error.message).toContain('timed out after 300 ms');
    expect(error.result).toMatchObject({ stdout: 'before\n', signal: 'SIGKILL', exitCode: 137 });
  });

  it('kills a plain sleep on timeout', async () => {
    const error = await rejection(runCommand('sleep', ['5'], { timeoutMs: 200 }));
    expect(error.failure).toBe('timeout');
    expect(error.result).toMatchObject({ signal: 'SIGKILL' });
  });

  it('feeds input on stdin, and gives /dev/null without it', async () => {
    expect((await runCommand('cat', [], { ...T, input: 'hello\nworld' })).stdout).toBe(
      'hello\nworld',
    );
    expect((await runCommand('cat', [], { ...T, input: Buffer.from([0x68, 0x69]) })).stdout).toBe(
      'hi',
    );
    // Without input, cat reads end-of-file at once instead of waiting.
    expect((await runCommand('cat', [], T)).stdout).toBe('');
  });

  it('does not fail when the command ignores its input', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const result = await runCommand('true', [], { ...T, input: big });
    expect(result.exitCode).toBe(0);
  });

  it('sets env and cwd', async () => {
    const result = await runCommand('sh', ['-c', 'echo "$BERTH_X:$(pwd)"'], {
      ...T,
      env: { BERTH_X: 'yes' },
      cwd: scratch,
    });
    expect(result.stdout.trim()).toBe(`yes:${scratch}`);
  });

  it('inherits the environment unless told not to, and can remove variables', async () => {
    process.env.BERTH_RUN_COMMAND_TEST = 'inherited';
    try {
      const inherited = await runCommand('sh', ['-c', 'echo "[$BERTH_RUN_COMMAND_TEST]"'], T);
      expect(inherited.stdout).toBe('[inherited]\n');
      const removed = await runCommand('sh', ['-c', 'echo "[$BERTH_RUN_COMMAND_TEST]"'], {
        ...T,
        env: { BERTH_RUN_COMMAND_TEST: undefined },
      });
      expect(removed.stdout).toBe('[]\n');
      const only = await runCommand('/usr/bin/env', [], {
        ...T,
        inheritEnv: false,
        env: { ONLY: '1' },
      });
      expect(only.stdout).toBe('ONLY=1\n');
    } finally {
      delete process.env.BERTH_RUN_COMMAND_TEST;
    }
  });

  it('does not wait for a background child that keeps the pipes open', async () => {
    const result = await runCommand('sh', ['-c', 'sleep 30 & echo $!'], T);
    const background = Number(result.stdout.trim());
    // The command has ended while its background child still holds the pipes.
    expect(() => process.kill(background, 0)).not.toThrow();
    process.kill(background, 'SIGKILL');
  });

  it('keeps multi-byte characters intact across chunks', async () => {
    const result = await runCommand(
      'sh',
      ['-c', 'i=0; while [ $i -lt 20000 ]; do printf é; i=$((i+1)); done'],
      T,
    );
    expect(result.stdout).toBe('é'.repeat(20000));
  });

  it('kills a command that writes more than maxOutputBytes', async () => {
    const error = await rejection(runCommand('yes', [], { ...T, maxOutputBytes: 64 * 1024 }));
    expect(error.failure).toBe('output-limit');
    expect(error.message).toContain('more than 65536 bytes');
  });

  it('can be cancelled with an AbortSignal', async () => {
    const controller = new AbortController();
    const running = runCommand('sleep', ['5'], { ...T, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const error = await rejection(running);
    expect(error.failure).toBe('aborted');
    const already = await rejection(runCommand('true', [], { ...T, signal: AbortSignal.abort() }));
    expect(already.failure).toBe('aborted');
  });

  it('refuses a missing timeout and a NUL byte in an argument', async () => {
    expect((await rejection(runCommand('true', [], { timeoutMs: 0 }))).code).toBe('INTERNAL');
    expect((await rejection(runCommand('echo', ['a\0b'], T))).code).toBe('INTERNAL');
  });

  it('shortens a long stderr in the message but keeps all of it in the result', async () => {
    const error = await rejection(
      runCommand(
        'sh',
        ['-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 1'],
        T,
      ),
    );
    expect(error.message.length).toBeLessThan(2_200);
    expect(error.message).toContain('line 0');
    expect(error.message).toContain('line 1999');
    expect(error.result?.stderr.split('\n').length).toBe(2001);
  });
});

describe('formatCommand', () => {
  it('quotes only what needs quoting', () => {
    expect(formatCommand('lxc-start', ['-n', 'c1', '-P', '/var/lib/berth/lxc', '-d'])).toBe(
      'lxc-start -n c1 -P /var/lib/berth/lxc -d',
    );
    expect(formatCommand('sh', ['-c', "echo 'x'", ''])).toBe(`sh -c 'echo '\\''x'\\''' ''`);
  });
});
