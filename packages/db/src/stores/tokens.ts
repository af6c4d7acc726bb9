import { createHash, randomBytes } from 'node:crypto';
import type { Tx } from '../client.ts';

export interface ApiTokenRecord {
  id: number;
  userId: number;
  name: string;
  /** The first characters of the secret, to tell tokens apart. */
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
}

const select = {
  id: true,
  userId: true,
  name: true,
  prefix: true,
  createdAt: true,
  lastUsedAt: true,
  expiresAt: true,
} as const;

/** How stale a token's recorded last use may be (its list shows it; nothing decides on it). */
export const LAST_USED_PRECISION_MS = 60_000;

/** Secrets look like `berth_<40 hex>`; only their SHA-256 is stored. */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export class ApiTokenStore {
  constructor(private readonly db: Tx) {}

  /** Creates a token; the secret is returned once and never stored. */
  async create(
    userId: number,
    name: string,
    expiresAt: Date | null = null,
  ): Promise<{ token: ApiTokenRecord; secret: string }> {
    const secret = `berth_${randomBytes(20).toString('hex')}`;
    const token = await this.db.apiToken.create({
      data: { userId, name, tokenHash: hashToken(secret), prefix: secret.slice(0, 12), expiresAt },
      select,
    });
    return { token, secret };
  }

  async list(userId: number): Promise<ApiTokenRecord[]> {
    return this.db.apiToken.findMany({ where: { userId }, select, orderBy: { createdAt: 'asc' } });
  }

  async delete(userId: number, id: number): Promise<boolean> {
    const out = await this.db.apiToken.deleteMany({ where: { id, userId } });
    return out.count > 0;
  }

  /**
   * The token a presented secret belongs to, when it exists and has not
   * expired; records the use. `lastUsedAt` is kept to the minute: a token
   * used again within LAST_USED_PRECISION_MS of its recorded use is not
   * written again (a write per API call was a database commit per request).
   */
  async authenticate(secret: string, now = new Date()): Promise<ApiTokenRecord | null> {
    const token = await this.db.apiToken.findUnique({
      where: { tokenHash: hashToken(secret) },
      select,
    });
    if (!token || (token.expiresAt && token.expiresAt <= now)) return null;
    const recorded = token.lastUsedAt?.getTime();
    if (recorded !== undefined && Math.abs(now.getTime() - recorded) < LAST_USED_PRECISION_MS)
      return token;
    await this.db.apiToken.update({ where: { id: token.id }, data: { lastUsedAt: now } });
    return { ...token, lastUsedAt: now };
  }
}
