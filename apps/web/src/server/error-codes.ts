// The one table from an error's code to what each transport answers: the
// HTTP status (REST under /1.0, the /api route handlers), the tRPC code
// (whose own HTTP status is the same) and the title a terminal shows before
// the error's own words. EngineError's codes and the access codes of
// policy.ts's authorize (UNAUTHORIZED) are its rows.
//
// Next.js bundles this module as well as server.ts loading it, so it imports
// no runtime (a bundled copy of the engine's classes would be a second
// engine): errors are recognised by their name and code, not by class.
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import type { EngineErrorCode } from '@berth/engine';

export type ErrorCode = EngineErrorCode | 'UNAUTHORIZED';

export interface TransportCodes {
  http: number;
  trpc: TRPC_ERROR_CODE_KEY;
  /** What a terminal shows before the error's message: "Not found: Instance "c1" not found". */
  title: string;
}

export const errorCodes: Record<ErrorCode, TransportCodes> = {
  UNAUTHORIZED: { http: 401, trpc: 'UNAUTHORIZED', title: 'Sign in first' },
  NOT_FOUND: { http: 404, trpc: 'NOT_FOUND', title: 'Not found' },
  ALREADY_EXISTS: { http: 409, trpc: 'CONFLICT', title: 'Already exists' },
  INVALID_ARGUMENT: { http: 400, trpc: 'BAD_REQUEST', title: 'Invalid request' },
  FORBIDDEN: { http: 403, trpc: 'FORBIDDEN', title: 'Not allowed' },
  CONFLICT: { http: 409, trpc: 'CONFLICT', title: 'Conflict' },
  BUSY: { http: 409, trpc: 'CONFLICT', title: 'Busy' },
  NOT_IMPLEMENTED: { http: 501, trpc: 'NOT_IMPLEMENTED', title: 'Not supported' },
  DRIVER_UNAVAILABLE: { http: 503, trpc: 'SERVICE_UNAVAILABLE', title: 'Driver unavailable' },
  INTERNAL: { http: 500, trpc: 'INTERNAL_SERVER_ERROR', title: 'Internal error' },
};

/** An EngineError or a refusal of policy.ts's authorize (AccessError), by shape. */
export interface CodedError extends Error {
  name: 'EngineError' | 'AccessError';
  code: ErrorCode;
  /** The input field an EngineError is about. */
  field?: string | undefined;
  /** An AccessError's words for LXD clients (REST), when they differ from its message. */
  lxdMessage?: string;
}

function isCoded(error: unknown): error is CodedError {
  if (!(error instanceof Error)) return false;
  if (error.name !== 'EngineError' && error.name !== 'AccessError') return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && Object.hasOwn(errorCodes, code);
}

/** The coded error thrown, or the one it wraps (as tRPC and callers wrap them), if any. */
export function codedErrorOf(error: unknown): CodedError | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 3; depth++) {
    if (isCoded(e)) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
