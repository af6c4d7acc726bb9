import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConsoleLog } from './console-log.ts';

describe('readConsoleLog', () => {
  it('reads the log tail and caps the file, keeping its newest half', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-console-'));
    try {
      const file = path.join(dir, 'console.log');
      expect(readConsoleLog(file)).toBe('');
      writeFileSync(file, 'a'.repeat(60) + 'b'.repeat(40));
      expect(readConsoleLog(file, 200)).toBe('a'.repeat(60) + 'b'.repeat(40));
      expect(readConsoleLog(file, 50)).toBe('a'.repeat(10) + 'b'.repeat(40));
      expect(readFileSync(file, 'utf8')).toBe('b'.repeat(25));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
