// Configuration for the stock Prisma CLI (`prisma migrate deploy`,
// `prisma studio`) where its schema-engine binary is available. Berth itself
// applies migrations at start-up with packages/db's WebAssembly runner.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url:
      process.env.BERTH_DATABASE_URL ??
      `file:${process.env.BERTH_DATA_DIR ?? './data'}/database/berth.db`,
  },
});
