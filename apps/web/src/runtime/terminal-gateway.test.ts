import { describe, expect, it } from 'vitest';
import { EngineError } from '@berth/engine';
import { TerminalOpen, terminalAuditEntry, terminalError } from './terminal-gateway.ts';

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

  it('takes a VM’s graphical console, which needs no size', () => {
    expect(TerminalOpen.parse({ kind: 'vga', instance: 'v1' })).toEqual({
      kind: 'vga',
      project: 'default',
      instance: 'v1',
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

describe('terminal audit entries', () => {
  const otto = { id: 3, username: 'otto', via: 'session' as const };

  it('records an exec that opened, with the command it ran', () => {
    expect(
      terminalAuditEntry(
        otto,
        { kind: 'exec', instance: 'c1', cols: 80, rows: 24 },
        { command: ['/bin/sh', '-l'] },
      ),
    ).toEqual({
      userId: 3,
      actor: 'otto',
      action: 'terminal.exec',
      project: 'default',
      objectType: 'instance',
      objectName: 'c1',
      result: 'success',
      detail: '{"command":["/bin/sh","-l"]}',
    });
  });

  it('records a refusal with the reason the client was sent, and the token used', () => {
    const viewer = { id: 2, username: 'vera', via: 'token' as const, tokenId: 7 };
    const refused = new EngineError(
      'FORBIDDEN',
      'Your role in project "p1" does not allow console',
    );
    expect(
      terminalAuditEntry(
        viewer,
        { kind: 'console', project: 'p1', instance: 'c1', cols: 80, rows: 24 },
        { error: refused },
      ),
    ).toMatchObject({
      action: 'terminal.console',
      project: 'p1',
      objectName: 'c1',
      result: 'failure: Your role in project "p1" does not allow console',
      detail: '{"via":"token #7"}',
    });
  });

  it('records a graphical console as terminal.vga, without a command', () => {
    expect(
      terminalAuditEntry(otto, { kind: 'vga', instance: 'v1', command: ['ignored'] }, {}),
    ).toMatchObject({
      action: 'terminal.vga',
      project: 'default',
      objectName: 'v1',
      result: 'success',
      detail: null,
    });
  });

  it('records an invalid request with the fields that parse, naming the one that did not', () => {
    const raw = { kind: 'exec', instance: 'c1', command: ['id'], cols: 0, rows: 24 };
    const parsed = TerminalOpen.safeParse(raw);
    expect(terminalAuditEntry(otto, raw, { error: parsed.error })).toMatchObject({
      action: 'terminal.exec',
      objectName: 'c1',
      result: expect.stringMatching(/^failure: cols: /),
      detail: '{"command":["id"]}',
    });
    expect(terminalAuditEntry(otto, 'nonsense', { error: new Error('x') })).toMatchObject({
      action: 'terminal.open',
      project: 'default',
      objectName: null,
      detail: null,
    });
  });
});
