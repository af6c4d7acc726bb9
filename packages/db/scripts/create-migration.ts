// npm run db:migration -- <name>: writes the next migration from the change
// in prisma/schema.prisma (what `prisma migrate dev --create-only` does).
import { createMigration } from '../src/migrate/index.ts';

const name = process.argv[2];
if (!name) {
  console.error('usage: npm run db:migration -- <name>');
  process.exit(2);
}
const dir = await createMigration(name);
console.log(
  dir ? `wrote ${dir}/migration.sql` : 'schema.prisma matches the migrations: nothing to write',
);
