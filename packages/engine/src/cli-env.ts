// Environment of the engine's command-line entry, parsed once with zod.
// (The engine itself never reads process.env; it receives EngineConfig.)
import path from 'node:path';
import { z } from 'zod';

const Env = z.object({
  BERTH_DATA_DIR: z.string().min(1).default('./data'),
  BERTH_ADMIN_USER: z
    .string()
    .regex(
      /^[a-z_][a-z0-9_.-]{0,31}$/,
      'must be a lower-case user name (letters, digits, "_", "-", ".")',
    )
    .default('admin'),
  BERTH_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  BERTH_LOCATION: z.string().min(1).default('none'),
  BERTH_CACHE_DIR: z.string().min(1).optional(),
});
export type CliEnv = z.infer<typeof Env> & { dataDir: string };

export function parseCliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  const result = Env.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`Environment variable ${issue.path.join('.')}: ${issue.message}`);
  }
  return { ...result.data, dataDir: path.resolve(result.data.BERTH_DATA_DIR) };
}
