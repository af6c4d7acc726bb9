/**
 * The one error type the engine throws. API layers (tRPC, REST, socket.io)
 * map `code` to their transport status in exactly one place each.
 */
export const EngineErrorCode = {
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  FORBIDDEN: 'FORBIDDEN',
  CONFLICT: 'CONFLICT',
  BUSY: 'BUSY',
  NOT_IMPLEMENTED: 'NOT_IMPLEMENTED',
  DRIVER_UNAVAILABLE: 'DRIVER_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type EngineErrorCode = (typeof EngineErrorCode)[keyof typeof EngineErrorCode];

export interface EngineErrorOptions {
  /** The input field the error is about, e.g. `config["limits.cpu"]` or `name`. */
  field?: string;
  cause?: unknown;
}

export class EngineError extends Error {
  override readonly name = 'EngineError';
  readonly code: EngineErrorCode;
  readonly field: string | undefined;

  constructor(code: EngineErrorCode, message: string, options: EngineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }

  static notFound(what: string, options?: EngineErrorOptions): EngineError {
    return new EngineError('NOT_FOUND', `${what} not found`, options);
  }

  static invalid(field: string, reason: string): EngineError {
    return new EngineError('INVALID_ARGUMENT', `${field}: ${reason}`, { field });
  }
}

export function isEngineError(error: unknown, code?: EngineErrorCode): error is EngineError {
  return error instanceof EngineError && (code === undefined || error.code === code);
}
