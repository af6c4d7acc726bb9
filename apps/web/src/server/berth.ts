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
  /** Checks a password, rate-limited per account and per client address. */
  login(username: string, password: string, address: string): Promise<LoginResult>;
  /** The user as the database has it now; null when gone or disabled. */
  get(username: string): Promise<SessionUser | null>;
  /** Sets a new password after checking the current one; clears mustChangePassword. */
  changePassword(username: string, current: string, next: string): Promise<void>;
  /** Server administration of accounts (users router); see runtime/accounts.ts. */
  admin: UserAdmin;
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
  /** Refuses to disable the last enabled server admin. */
  setDisabled(username: string, disabled: boolean): Promise<UserSummary>;
  /** A new generated password, to be changed at next login. */
  resetPassword(username: string): Promise<{ generatedPassword: string }>;
  /** Refuses to delete the last enabled server admin. */
  remove(username: string): Promise<void>;
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
