import { describe, expect, it } from 'vitest';
import { loginErrorMessage } from './login-messages.ts';

describe('loginErrorMessage', () => {
  it('says nothing when nothing failed', () => {
    expect(loginErrorMessage(null)).toBeNull();
    expect(loginErrorMessage('', 'invalid')).toBeNull();
  });

  it('prefers the code, then the error type', () => {
    expect(loginErrorMessage('CredentialsSignin', 'rate_limited')).toMatch(/Too many/);
    expect(loginErrorMessage('CredentialsSignin', 'invalid')).toBe('Wrong user name or password.');
    expect(loginErrorMessage('AccessDenied', 'sso_unknown_user')).toMatch(
      /no enabled Berth user has your user name/,
    );
    expect(loginErrorMessage('AccessDenied')).toBe('Access denied.');
    expect(loginErrorMessage('OAuthCallbackError')).toMatch(/cancelled or refused/);
  });

  it('never echoes what the query string says', () => {
    expect(loginErrorMessage('<b>anything</b>', 'made-up')).toBe(
      'Sign-in failed. The server log has the details.',
    );
    expect(loginErrorMessage('Configuration', 'toString')).toBe(
      'Sign-in failed. The server log has the details.',
    );
  });
});
