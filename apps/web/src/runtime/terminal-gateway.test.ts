import { describe, expect, it } from 'vitest';
import { EngineError } from '@berth/engine';
import { TerminalOpen, terminalError } from './terminal-gateway.ts';

describe('terminal requests', () => {
  it('defaults the project and leaves the command to the server', () => {
    expect(TerminalOpen.parse({ kind: 'exec', instance: 'c1', cols: 80, rows: 24 })).toEqual({
      kind: 'exec',
      project: 'default',
      instance: 'c1',
      cols: 80,
      rows: 24,
    });
  });

  it('refuses unknown kinds, empty commands and absurd sizes', () => {
    const base = { kind: 'exec', instance: 'c1', cols: 80, rows: 24 };
    expect(TerminalOpen.safeParse({ ...base, kind: 'shell' }).success).toBe(false);
    expect(TerminalOpen.safeParse({ ...base, command: [] }).success).toBe(false);
    expect(TerminalOpen.safeParse({ ...base, cols: 0 }).success).toBe(false);
    expect(TerminalOpen.safeParse({ ...base, rows: 5000 }).success).toBe(false);
  });
});

describe('terminal errors', () => {
  it('maps each engine code to one message', () => {
    expect(terminalError(new EngineError('BUSY', 'The console of c1 is already in use'))).toEqual({
      code: 'BUSY',
      message: 'Busy: The console of c1 is already in use',
    });
    expect(terminalError(EngineError.notFound('Instance "c1"'))).toEqual({
      code: 'NOT_FOUND',
      message: 'Not found: Instance "c1" not found',
    });
  });

  it('names the field of an invalid request', () => {
    const parsed = TerminalOpen.safeParse({ kind: 'exec', instance: 'c1', cols: -1, rows: 24 });
    expect(parsed.success).toBe(false);
    const error = terminalError(parsed.error);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^Invalid request: cols: /);
  });

  it('reports anything else as internal', () => {
    expect(terminalError(new Error('boom'))).toEqual({
      code: 'INTERNAL',
      message: 'Internal error: boom',
    });
  });
});
