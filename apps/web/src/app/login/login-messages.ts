// What the login page says about a failed sign-in: Auth.js's `error` and
// `code` (from a password form answer, or from the query string it redirects
// to after single sign-on).

const codeMessages = {
  invalid: 'Wrong user name or password.',
  rate_limited: 'Too many failed attempts. Wait a minute and try again.',
  sso_unknown_user:
    'Single sign-on succeeded, but no enabled Berth user has your user name. Ask a Berth administrator to create or enable your account.',
  sso_no_username:
    'Single sign-on succeeded, but the provider did not send a user name (preferred_username), so Berth cannot tell who you are.',
} as const;

const errorMessages = {
  CredentialsSignin: codeMessages.invalid,
  AccessDenied: 'Access denied.',
  OAuthCallbackError: 'Single sign-on was cancelled or refused by the provider.',
  MissingCSRF: 'The sign-in form expired. Try again.',
} as const;

/** Own keys only: the query string may name anything, `toString` included. */
function lookup(table: Record<string, string>, key: string | null | undefined): string | undefined {
  return key && Object.hasOwn(table, key) ? table[key] : undefined;
}

const fallback = 'Sign-in failed. The server log has the details.';

/** The message for a failed sign-in; null when nothing failed. */
export function loginErrorMessage(
  error: string | null | undefined,
  code?: string | null,
): string | null {
  if (!error) return null;
  return lookup(codeMessages, code) ?? lookup(errorMessages, error) ?? fallback;
}
