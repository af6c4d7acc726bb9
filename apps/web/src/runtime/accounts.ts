// Password accounts over the users table (argon2 hashes in @berth/db).
// Runs in server.ts's process; Next's code reaches it through getBerth().
import {
  hashPassword,
  verifyPassword,
  generatePassword,
  type Database,
  type UserRecord,
} from '@berth/db';
import { EngineError } from '@berth/engine';
import { readFile, rm } from 'node:fs/promises';
import type {
  Accounts,
  LoginRefusal,
  LoginResult,
  Sessions,
  SessionUser,
  UserAdmin,
  UserSummary,
} from '../server/berth.ts';
import { LoginLimiter } from '../server/rate-limit.ts';

export const minPasswordLength = 12;

function toSessionUser(user: UserRecord): SessionUser {
  return {
    id: user.id,
    username: user.username,
    isAdmin: user.isAdmin,
    mustChangePassword: user.mustChangePassword,
  };
}

export interface AccountsOptions {
  /** Where server.ts keeps the first admin's generated password until it is changed. */
  initialPasswordFile?: string;
  limiter?: LoginLimiter;
}

export async function createAccounts(
  db: Database,
  options: AccountsOptions = {},
): Promise<Accounts> {
  const limiter = options.limiter ?? new LoginLimiter();
  // Unknown users cost the same argon2 verification as known ones, so the
  // answer time does not tell which user names exist.
  const decoyHash = await hashPassword(generatePassword());
  const sweep = setInterval(() => limiter.sweep(), 10 * 60_000);
  sweep.unref();

  const sessions = createSessions(db);
  return {
    admin: createUserAdmin(db, sessions),
    sessions,

    async login(username, password, address): Promise<LoginResult> {
      const retryAfterMs = limiter.check(username, address);
      if (retryAfterMs > 0) return { ok: false, reason: 'rate_limited', retryAfterMs };
      const user = await db.users.get(username);
      const valid = await verifyPassword(user?.passwordHash ?? decoyHash, password);
      const cause: LoginRefusal | null = !user
        ? 'unknown user'
        : !user.passwordHash
          ? 'no password set'
          : !valid
            ? 'wrong password'
            : user.disabled
              ? 'account disabled'
              : null;
      if (!user || cause) {
        limiter.fail(username, address);
        return {
          ok: false,
          reason: 'invalid',
          cause: cause ?? 'unknown user',
          userId: user?.id ?? null,
        };
      }
      limiter.succeed(username, address);
      return { ok: true, user: toSessionUser(user) };
    },

    async get(username) {
      const user = await db.users.get(username);
      return user && !user.disabled ? toSessionUser(user) : null;
    },

    async changePassword(username, current, next) {
      const user = await db.users.get(username);
      if (!user || user.disabled) throw EngineError.notFound(`User "${username}"`);
      if (!user.passwordHash || !(await verifyPassword(user.passwordHash, current))) {
        throw EngineError.invalid('current', 'the current password is wrong');
      }
      if (next.length < minPasswordLength)
        throw EngineError.invalid('next', `must be at least ${minPasswordLength} characters`);
      if (next === current)
        throw EngineError.invalid('next', 'must differ from the current password');
      await db.users.setPassword(user.id, await hashPassword(next), false);
      // Whoever knew the old password may hold a session made with it.
      await sessions.endAll(user.id);
      // The generated first password is no longer valid: do not keep it around.
      if (options.initialPasswordFile) {
        const saved = await readFile(options.initialPasswordFile, 'utf8').catch(() => '');
        if (saved.startsWith(`${user.username}:`))
          await rm(options.initialPasswordFile, { force: true });
      }
    },
  };
}

function toSummary(user: UserRecord): UserSummary {
  return {
    id: user.id,
    username: user.username,
    isAdmin: user.isAdmin,
    disabled: user.disabled,
    mustChangePassword: user.mustChangePassword,
    createdAt: user.createdAt.toISOString(),
  };
}

const usernamePattern = /^[a-z_][a-z0-9_.-]{0,63}$/i;

/** Seconds a session goes unused before its expiry is moved forward (Auth.js's updateAge). */
export const sessionUpdateAge = 15 * 60;

function createSessions(db: Database): Sessions {
  const lifetime = (maxAge: number) =>
    // A cookie is re-made with a full lifetime whenever Auth.js reads it, and
    // its session is extended at most every updateAge: past the cookie's own end.
    new Date(Date.now() + (maxAge + sessionUpdateAge) * 1000);
  return {
    async start(userId, maxAge) {
      // Sessions nobody ended (closed browsers) are dropped as new ones start.
      await db.sessions.deleteExpired();
      return (await db.sessions.create(userId, lifetime(maxAge))).secret;
    },

    async resume(secret, userId, maxAge) {
      const session = await db.sessions.find(secret);
      if (!session || session.userId !== userId) return null;
      if (session.expires.getTime() - Date.now() < maxAge * 1000)
        await db.sessions.extend(session.id, lifetime(maxAge));
      return { id: session.id };
    },

    async end(secret) {
      const session = await db.sessions.delete(secret);
      return session && { id: session.id, userId: session.userId };
    },

    async endAll(userId) {
      await db.sessions.deleteForUser(userId);
    },
  };
}

function createUserAdmin(db: Database, sessions: Sessions): UserAdmin {
  const find = async (username: string) => {
    const user = await db.users.get(username);
    if (!user) throw EngineError.notFound(`User "${username}"`, { field: 'username' });
    return user;
  };
  /** The last enabled server admin stays: otherwise nobody could administer the server. */
  const keepAnAdmin = async (user: UserRecord, what: string) => {
    if (user.isAdmin && !user.disabled && (await db.users.countAdmins()) <= 1)
      throw new EngineError('CONFLICT', `Cannot ${what} the last server administrator`, {
        field: 'username',
      });
  };

  return {
    async list() {
      return (await db.users.list()).map(toSummary);
    },

    async create({ username, password, isAdmin }) {
      if (!usernamePattern.test(username))
        throw EngineError.invalid(
          'username',
          'letters, digits, "_", "." and "-" (at most 64), not starting with a digit, "." or "-"',
        );
      if (password !== undefined && password.length < minPasswordLength)
        throw EngineError.invalid('password', `must be at least ${minPasswordLength} characters`);
      if (await db.users.get(username))
        throw new EngineError('ALREADY_EXISTS', `User "${username}" already exists`, {
          field: 'username',
        });
      const generated = password === undefined ? generatePassword() : undefined;
      const user = await db.users.create({
        username,
        isAdmin,
        passwordHash: await hashPassword(password ?? generated!),
        // A password someone else chose is changed at first login, generated or not.
        mustChangePassword: true,
      });
      return { user: toSummary(user), ...(generated ? { generatedPassword: generated } : {}) };
    },

    async setDisabled(username, disabled) {
      const user = await find(username);
      if (disabled) await keepAnAdmin(user, 'disable');
      await db.users.setDisabled(user.id, disabled);
      // Enabled again, the account signs in afresh: its old cookies stay dead.
      if (disabled) await sessions.endAll(user.id);
      return toSummary({ ...user, disabled });
    },

    async resetPassword(username) {
      const user = await find(username);
      const generatedPassword = generatePassword();
      await db.users.setPassword(user.id, await hashPassword(generatedPassword), true);
      // A reset is what an admin does when the password may be known to someone else.
      await sessions.endAll(user.id);
      return { generatedPassword, userId: user.id };
    },

    async remove(username) {
      const user = await find(username);
      await keepAnAdmin(user, 'delete');
      // Its sessions, tokens and memberships go with it (cascade).
      await db.users.delete(user.id);
      return toSummary(user);
    },
  };
}
