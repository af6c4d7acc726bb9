// The Prisma client over a driver adapter. Only packages/db sees Prisma;
// everything it hands out is a plain record (see records.ts).
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from './generated/prisma/client.ts';
import type { Prisma } from './generated/prisma/client.ts';
import { busyTimeoutMs, sqliteFileOf } from './sqlite.ts';

/** The root client or an interactive transaction's client. */
export type Tx = Prisma.TransactionClient;
export type Root = PrismaClient;

export function createPrismaClient(url: string): PrismaClient {
  const adapter = new PrismaBetterSqlite3({
    url: `file:${sqliteFileOf(url)}`,
    timeout: busyTimeoutMs,
  });
  return new PrismaClient({ adapter });
}
