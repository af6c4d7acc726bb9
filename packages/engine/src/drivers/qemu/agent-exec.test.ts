import { describe, expect, it } from 'vitest';
import { EXEC_CD_WRAPPER, guestExecPlan, pollDelays } from './agent-exec.ts';

describe('guestExecPlan (stdin known at start: no FIFO)', () => {
  it('runs the command itself, with the shell as the fallback, and no input-data for no stdin', () => {
    const plan = guestExecPlan({ command: ['ls', '-l'], environment: { A: 'b' } });
    expect(plan.direct).toMatchObject({ path: 'ls', arg: ['-l'], 'capture-output': true });
    expect(plan.direct?.env).toEqual(expect.arrayContaining(['A=b', 'HOME=/root']));
    expect(plan.direct).not.toHaveProperty('input-data');
    expect(plan.shell).toMatchObject({
      path: '/bin/sh',
      arg: ['-c', EXEC_CD_WRAPPER, 'sh', '', 'ls', '-l'],
    });
  });
  it('needs the shell for a cwd, and gives stdin bytes whole as input-data', () => {
    const plan = guestExecPlan({ command: ['cat'], cwd: '/srv' }, Buffer.from('abc'));
    expect(plan.direct).toBeUndefined();
    expect(plan.shell.arg).toEqual(['-c', EXEC_CD_WRAPPER, 'sh', '/srv', 'cat']);
    expect(plan.shell['input-data']).toBe(Buffer.from('abc').toString('base64'));
  });
  it('refuses what QGA cannot do, as the FIFO form does', () => {
    expect(() => guestExecPlan({ command: [] })).toThrow(/command/);
    expect(() => guestExecPlan({ command: ['id'], group: 5 })).toThrow(/group/);
  });
});

describe('pollDelays', () => {
  it('starts at a few milliseconds and grows gently to its cap', () => {
    const delays = pollDelays(2, 100);
    const seen = Array.from({ length: 14 }, () => delays.next().value);
    expect(seen.slice(0, 4)).toEqual([2, 3, 5, 8]);
    expect(seen.every((d, i) => i === 0 || d >= seen[i - 1]!)).toBe(true);
    expect(seen.at(-1)).toBe(100);
  });
});
