// A template that cannot be parsed or rendered: the line it is at; the
// caller (which knows the file) turns it into an EngineError naming both.
import { EngineError } from '../errors.ts';

export class TemplateSyntaxError extends Error {
  override readonly name = 'TemplateSyntaxError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** INVALID_ARGUMENT `template "<file>", line <n>: <reason>` (field `templates/<file>`). */
export function templateError(file: string, error: unknown): EngineError {
  if (error instanceof TemplateSyntaxError) {
    return new EngineError(
      'INVALID_ARGUMENT',
      `template "${file}", line ${error.line}: ${error.message}`,
      {
        field: `templates/${file}`,
        cause: error,
      },
    );
  }
  if (error instanceof EngineError) return error;
  return new EngineError('INTERNAL', `template "${file}": ${(error as Error).message}`, {
    cause: error,
  });
}
