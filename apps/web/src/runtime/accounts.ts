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
import type { Accounts, LoginResult, SessionUser } from '../server/berth.ts';
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

  return {
    async login(username, password, address): Promise<LoginResult> {
      const retryAfterMs = limiter.check(username, address);
      if (retryAfterMs > 0) return { ok: false, reason: 'rate_limited', retryAfterMs };
      const user = await db.users.get(username);
      const valid = await verifyPassword(user?.passwordHash ?? decoyHash, password);
      if (!user || !valid || user.disabled || !user.passwordHash) {
        limiter.fail(username, address);
        return { ok: false, reason: 'invalid' };
      }
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
      // The generated first password is no longer valid: do not keep it around.
      if (options.initialPasswordFile) {
        const saved = await readFile(options.initialPasswordFile, 'utf8').catch(() => '');
        if (saved.startsWith(`${user.username}:`))
          await rm(options.initialPasswordFile, { force: true });
      }
    },
  };
}
