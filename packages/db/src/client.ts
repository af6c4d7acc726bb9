// The Prisma client over a driver adapter. Only packages/db sees Prisma;
// everything it hands out is a plain record (see records.ts).
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from './generated/prisma/client.ts';
import type { Prisma } from './generated/prisma/client.ts';
import { busyTimeoutMs, sqliteFileOf } from './sqlite.ts';

/** The root client or an interactive transaction's client. */
export type Tx = Prisma.TransactionClient;
export type Root = PrismaClient;

/**
 * SQLite's real limit on a statement's bound values (SQLITE_MAX_VARIABLE_NUMBER,
 * 32766 since 3.32, better-sqlite3's build included). Told to Prisma, which
 * otherwise assumes SQLite's old 999 and refuses a list of 1,000 instances
 * (their config and devices load with one `IN (...)` over all of them).
 */
export const SQLITE_MAX_BIND_VALUES = 32766;

export function createPrismaClient(url: string): PrismaClient {
  const factory = new PrismaBetterSqlite3({
    url: `file:${sqliteFileOf(url)}`,
    timeout: busyTimeoutMs,
  });
  const connect = factory.connect.bind(factory);
  // The adapter has no getConnectionInfo; the client asks it for maxBindValues.
  factory.connect = async () =>
    Object.assign(await connect(), {
      getConnectionInfo: () => ({
        maxBindValues: SQLITE_MAX_BIND_VALUES,
        supportsRelationJoins: false,
      }),
    });
  return new PrismaClient({ adapter: factory });
}
