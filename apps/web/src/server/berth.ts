// The bridge between server.ts and the code Next.js bundles. server.ts
// (run by tsx) creates the engine, the accounts and the limiter once and
// registers them here; route handlers and tRPC read them back. Next's
// bundles never import @berth/engine or @berth/db at run time (only types),
// so there is exactly one engine, one database and one event bus per process.
import type { Engine } from '@berth/engine';
import type { WebEnv } from '../env.ts';
import type { LiveConnections } from './live-connections.ts';
import type { MemberStore } from './members.ts';

export interface SessionUser {
  id: number;
  username: string;
  isAdmin: boolean;
  mustChangePassword: boolean;
}

/** Why a password was refused: the audit log says it, the person signing in never sees it. */
export type LoginRefusal =
  'unknown user' | 'no password set' | 'wrong password' | 'account disabled';

export type LoginResult =
  | { ok: true; user: SessionUser }
  | { ok: false; reason: 'invalid'; cause: LoginRefusal; userId: number | null }
  | { ok: false; reason: 'rate_limited'; retryAfterMs: number };

export interface Accounts {
  /** Checks a password, rate-limited per (client address, account) pair and per address (rate-limit.ts). */
  login(username: string, password: string, address: string): Promise<LoginResult>;
  /** The user as the database has it now; null when gone or disabled. */
  get(username: string): Promise<SessionUser | null>;
  /**
   * Sets a new password after checking the current one; clears
   * mustChangePassword and ends every session of the account (the caller
   * starts a fresh one for the session that asked, see account router).
   */
  changePassword(username: string, current: string, next: string): Promise<void>;
  /** Server administration of accounts (users router); see runtime/accounts.ts. */
  admin: UserAdmin;
  /** The server side of browser sessions. */
  sessions: Sessions;
}

/**
 * Browser sessions, kept server side (the Session table): the session cookie
 * carries a session's secret, and a cookie counts only while its session
 * lives. Sign-out ends one; a password change or reset and disabling or
 * deleting the account end all of the account's. `maxAge` is the session
 * lifetime in seconds (env.sessionMaxAge), as the cookie's.
 */
export interface Sessions {
  /** Starts a session for a sign-in; returns its secret, for the cookie only. */
  start(userId: number, maxAge: number): Promise<string>;
  /**
   * The live session `secret` names, when it belongs to `userId`; extends it
   * while it is used. Null when it was ended, expired or is another account's.
   */
  resume(secret: string, userId: number, maxAge: number): Promise<{ id: number } | null>;
  /** Ends one session (sign-out); returns it, or null when it had already ended. */
  end(secret: string): Promise<{ id: number; userId: number } | null>;
  /** Ends every session of the account. */
  endAll(userId: number): Promise<void>;
}

/** An account as server admins see it (never its password hash). */
export interface UserSummary {
  id: number;
  username: string;
  isAdmin: boolean;
  disabled: boolean;
  mustChangePassword: boolean;
  createdAt: string;
}

export interface UserAdmin {
  list(): Promise<UserSummary[]>;
  /** Without a password one is generated and returned (shown once); the user must change it. */
  create(input: {
    username: string;
    password?: string;
    isAdmin: boolean;
  }): Promise<{ user: UserSummary; generatedPassword?: string }>;
  /** Refuses to disable the last enabled server admin; disabling ends the account's sessions. */
  setDisabled(username: string, disabled: boolean): Promise<UserSummary>;
  /** A new generated password, to be changed at next login; ends the account's sessions. */
  resetPassword(username: string): Promise<{ generatedPassword: string; userId: number }>;
  /** Refuses to delete the last enabled server admin; its sessions and tokens go with it. */
  remove(username: string): Promise<UserSummary>;
}

export interface BerthServices {
  engine: Engine;
  env: WebEnv;
  sessionSecret: string;
  /** The session cookie's name (also the JWT's salt). */
  sessionCookieName: string;
  secureCookies: boolean;
  accounts: Accounts;
  members: MemberStore;
  /** Open sockets and streams by principal, closed when the principal is revoked. */
  connections: LiveConnections;
}

const key = Symbol.for('berth.web.services');
type Holder = { [key]?: BerthServices };

export function registerBerth(services: BerthServices): void {
  (globalThis as Holder)[key] = services;
}

export function getBerth(): BerthServices {
  const services = (globalThis as Holder)[key];
  if (!services)
    throw new Error(
      'Berth services are not registered: run the web app through server.ts (npm start / npm run dev)',
    );
  return services;
}

/** Auth.js's own naming: `__Secure-` only over HTTPS. */
export function sessionCookieNameFor(secure: boolean): string {
  return `${secure ? '__Secure-' : ''}authjs.session-token`;
}
