// The first server administrator. Created once, on first start: with the
// password from configuration, or with a generated one that is printed once
// and must be changed at first login. Never overwrites an existing account.
import type { Database } from './database.ts';
import { generatePassword, hashPassword } from './passwords.ts';

export interface BootstrapAdminResult {
  created: boolean;
  username: string;
  /** Set only when a password was generated now (to show it once). */
  generatedPassword?: string;
}

export async function ensureAdmin(
  db: Database,
  options: { username: string; password?: string },
): Promise<BootstrapAdminResult> {
  const existing = await db.users.get(options.username);
  if (existing || (await db.users.countAdmins()) > 0)
    return { created: false, username: existing?.username ?? options.username };
  const generated = options.password ? undefined : generatePassword();
  await db.users.create({
    username: options.username,
    isAdmin: true,
    passwordHash: await hashPassword(options.password ?? generated!),
    mustChangePassword: generated !== undefined,
  });
  return {
    created: true,
    username: options.username,
    ...(generated ? { generatedPassword: generated } : {}),
  };
}
