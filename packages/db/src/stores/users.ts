import type { Tx } from '../client.ts';

export interface UserRecord {
  id: number;
  username: string;
  email: string | null;
  name: string | null;
  passwordHash: string | null;
  isAdmin: boolean;
  mustChangePassword: boolean;
  disabled: boolean;
  createdAt: Date;
}

export interface UserInput {
  username: string;
  email?: string | null;
  name?: string | null;
  passwordHash?: string | null;
  isAdmin?: boolean;
  mustChangePassword?: boolean;
}

const select = {
  id: true,
  username: true,
  email: true,
  name: true,
  passwordHash: true,
  isAdmin: true,
  mustChangePassword: true,
  disabled: true,
  createdAt: true,
} as const;

export class UserStore {
  constructor(private readonly db: Tx) {}

  async list(): Promise<UserRecord[]> {
    return this.db.user.findMany({ select, orderBy: { username: 'asc' } });
  }

  async getById(id: number): Promise<UserRecord | null> {
    return this.db.user.findUnique({ where: { id }, select });
  }

  async get(username: string): Promise<UserRecord | null> {
    return this.db.user.findUnique({ where: { username }, select });
  }

  async countAdmins(): Promise<number> {
    return this.db.user.count({ where: { isAdmin: true, disabled: false } });
  }

  async create(input: UserInput): Promise<UserRecord> {
    return this.db.user.create({ data: input, select });
  }

  async setDisabled(id: number, disabled: boolean): Promise<void> {
    await this.db.user.update({ where: { id }, data: { disabled } });
  }

  /** Removes the user with their sessions, tokens and memberships. */
  async delete(id: number): Promise<void> {
    await this.db.user.delete({ where: { id } });
  }

  async setPassword(id: number, passwordHash: string, mustChangePassword: boolean): Promise<void> {
    await this.db.user.update({ where: { id }, data: { passwordHash, mustChangePassword } });
  }
}
