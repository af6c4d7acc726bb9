import { describe, expect, it } from 'vitest';
import { holdsSecrets, withoutSecrets } from './operation-secrets.ts';

describe('withoutSecrets', () => {
  it('drops the channel secrets and the environment of an exec, keeps the rest', () => {
    const metadata = {
      fds: { '0': 'a'.repeat(64), control: 'b'.repeat(64) },
      environment: { API_KEY: 'hunter2' },
      command: ['sh'],
      interactive: true,
    };
    expect(withoutSecrets(metadata)).toEqual({ command: ['sh'], interactive: true });
    // The caller's object is left alone (the REST layer still needs the secrets).
    expect(metadata.fds['0']).toBe('a'.repeat(64));
  });

  it('leaves metadata without secrets (and null) as it is', () => {
    const progress = { progress: { percent: '40', stage: 'unpack' } };
    expect(withoutSecrets(progress)).toBe(progress);
    expect(withoutSecrets(null)).toBeNull();
    expect(withoutSecrets(undefined)).toBeUndefined();
  });

  it('tells stored metadata that still holds a secret', () => {
    expect(holdsSecrets({ fds: {} })).toBe(true);
    expect(holdsSecrets({ environment: {} })).toBe(true);
    expect(holdsSecrets({ return: 0 })).toBe(false);
    expect(holdsSecrets(null)).toBe(false);
    expect(holdsSecrets('fds')).toBe(false);
  });
});
