import { describe, expect, it } from 'vitest';
import * as validation from './index';

describe('validation index', () => {
  it.each([
    'validName',
    'validInstanceName',
    'validSnapshotName',
    'nameProblem',
    'randomInstanceName',
    'parseRawIdmap',
    'allowedUnprivilegedOnlyMap',
    'parseSubidFile',
    'IdmapSet',
    'defaultIdmapSet',
    'nextInterfaceHwaddr',
    'isValidHwaddr',
    'validHwaddr',
    'compareSnapshots',
    'timestampNanos',
    'cryptoRandom',
  ])('exports %s', (name) => {
    expect(typeof (validation as Record<string, unknown>)[name]).toBe('function');
  });

  it('does not export test helpers', () => {
    expect('fixedRandom' in validation).toBe(false);
  });
});
