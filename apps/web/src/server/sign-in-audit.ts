// What the audit log records when someone signs in or out (auth.ts writes
// it): who, `auth.signIn` / `auth.signOut`, the account, how it went, and
// how and from where. Server-wide (no project), so server admins read it.
// The password typed is never part of it.
import type { AuditInput } from '@berth/db';
import type { SignInMethod } from './sign-in-method.ts';

export interface SignInAttempt {
  /** The user name given (or the one single sign-on vouched for); null when there is none. */
  username: string | null;
  /** The account's id, when it exists. */
  userId: number | null;
  method: SignInMethod;
  /** The single sign-on provider's display name. */
  provider?: string;
  /** The provider's subject, when it named no Berth user. */
  subject?: string;
  /** The client's address, as the server saw it. */
  address: string | null;
  /** Why it was refused; absent when it succeeded. */
  refused?: string;
}

/** User names are what was typed: kept short, and `?` when there was none. */
function actorOf(username: string | null): string {
  return username ? username.slice(0, 64) : '?';
}

function how(method: SignInMethod, provider?: string, subject?: string): string {
  if (method === 'password') return 'with a password';
  const who = subject === undefined ? '' : `, subject ${JSON.stringify(subject.slice(0, 200))}`;
  return `with single sign-on (${provider ?? 'OpenID Connect'}${who})`;
}

const from = (address: string | null) => (address ? ` from ${address}` : '');

export function signInEntry(attempt: SignInAttempt): AuditInput {
  const actor = actorOf(attempt.username);
  return {
    userId: attempt.userId,
    actor,
    action: 'auth.signIn',
    project: null,
    objectType: 'user',
    objectName: attempt.username === null ? null : actor,
    result: attempt.refused === undefined ? 'success' : `failure: ${attempt.refused}`,
    detail: `${how(attempt.method, attempt.provider, attempt.subject)}${from(attempt.address)}`,
  };
}

export function signOutEntry(session: {
  username: string;
  userId: number | null;
  method: SignInMethod;
  provider?: string;
  address: string | null;
}): AuditInput {
  return {
    userId: session.userId,
    actor: session.username,
    action: 'auth.signOut',
    project: null,
    objectType: 'user',
    objectName: session.username,
    result: 'success',
    detail: `signed in ${how(session.method, session.provider)}${from(session.address)}`,
  };
}
