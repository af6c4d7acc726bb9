import { randomBytes } from 'node:crypto';
import type { Tx } from '../client.ts';
import { hashToken } from './tokens.ts';

/** A browser session as the server keeps it (see the Session model). */
export interface SessionRecord {
  id: number;
  userId: number;
  expires: Date;
  createdAt: Date;
}

const select = { id: true, userId: true, expires: true, createdAt: true } as const;

/**
 * Server-side sessions: the session cookie carries a random secret, only its
 * SHA-256 is stored, and a cookie is good only while its row exists.
 */
export class SessionStore {
  constructor(private readonly db: Tx) {}

  /** Starts a session; the secret (for the cookie) is returned once and never stored. */
  async create(userId: number, expires: Date): Promise<{ session: SessionRecord; secret: string }> {
    const secret = randomBytes(32).toString('base64url');
    const session = await this.db.session.create({
      data: { userId, sessionToken: hashToken(secret), expires },
      select,
    });
    return { session, secret };
  }

  /** The live session a cookie's secret belongs to: it exists and has not expired. */
  async find(secret: string, now = new Date()): Promise<SessionRecord | null> {
    const session = await this.db.session.findUnique({
      where: { sessionToken: hashToken(secret) },
      select,
    });
    return session && session.expires > now ? session : null;
  }

  async extend(id: number, expires: Date): Promise<void> {
    await this.db.session.updateMany({ where: { id }, data: { expires } });
  }

  /** Ends one session (sign-out); returns it, or null when it had already ended. */
  async delete(secret: string): Promise<SessionRecord | null> {
    const sessionToken = hashToken(secret);
    const session = await this.db.session.findUnique({ where: { sessionToken }, select });
    if (!session) return null;
    await this.db.session.deleteMany({ where: { sessionToken } });
    return session;
  }

  /** Ends every session of a user (password changed or reset, account disabled); returns how many. */
  async deleteForUser(userId: number): Promise<number> {
    return (await this.db.session.deleteMany({ where: { userId } })).count;
  }

  /** Drops sessions that expired on their own. */
  async deleteExpired(now = new Date()): Promise<number> {
    return (await this.db.session.deleteMany({ where: { expires: { lte: now } } })).count;
  }
}
