// Applies pending migrations to the database at BERTH_DATABASE_URL
// (default: file:<BERTH_DATA_DIR or ./data>/database/berth.db).
import { applyMigrations } from '../src/migrate/index.ts';

const url =
  process.env.BERTH_DATABASE_URL ??
  `file:${process.env.BERTH_DATA_DIR ?? './data'}/database/berth.db`;
const applied = await applyMigrations({ url });
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
