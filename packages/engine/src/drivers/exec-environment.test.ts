import { describe, expect, it } from 'vitest';
import { execEnvironment, execEnvironmentList } from './exec-environment.ts';

describe('execEnvironment', () => {
  it('sets TERM for interactive commands', () => {
    expect(execEnvironment({ command: ['sh'], interactive: { cols: 80, rows: 24 } }).TERM).toBe(
      'xterm-256color',
    );
    expect(execEnvironment({ command: ['sh'] }).TERM).toBeUndefined();
  });

  it('sets HOME and USER for root only; the request overrides the defaults', () => {
    expect(execEnvironment({ command: ['sh'], user: 1000 })).not.toHaveProperty('HOME');
    expect(execEnvironment({ command: ['sh'], environment: { PATH: '/bin' } }).PATH).toBe('/bin');
  });
});

describe('execEnvironmentList', () => {
  it('writes KEY=value and refuses what cannot be a variable, naming it', () => {
    expect(execEnvironmentList({ command: ['sh'], environment: { FOO: 'a=b' } })).toContain(
      'FOO=a=b',
    );
    const refused: Record<string, string>[] = [{ 'A=B': 'c' }, { '': 'c' }, { A: 'x\0y' }];
    for (const environment of refused) {
      expect(() => execEnvironmentList({ command: ['sh'], environment })).toThrow(/environment\[/);
    }
  });
});
