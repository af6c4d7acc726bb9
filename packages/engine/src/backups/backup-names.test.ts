import { describe, expect, it } from 'vitest';
import { nextBackupName, validBackupName } from './backup-names.ts';

describe('backup names', () => {
  it('numbers backups as LXD does', () => {
    expect(nextBackupName([])).toBe('backup0');
    expect(nextBackupName(['backup0', 'backup4', 'nightly'])).toBe('backup5');
  });
  it('refuses names that cannot be files or URL segments', () => {
    expect(() => validBackupName('nightly-1')).not.toThrow();
    expect(() => validBackupName('a/b')).toThrow(/name: .*backup name/);
    expect(() => validBackupName('.hidden')).toThrow(/must not start with "."/);
    expect(() => validBackupName('')).toThrow(/name/);
  });
});
