// Parses API input with its zod schema and turns the first problem into an
// EngineError that names the field and the reason.
import type { z } from 'zod';
import { EngineError } from './errors.ts';

export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  fieldPrefix?: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path =
    issue?.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.') ?? '';
  const field = [fieldPrefix, path].filter(Boolean).join('.') || 'input';
  throw EngineError.invalid(field, issue?.message ?? 'invalid value');
}
