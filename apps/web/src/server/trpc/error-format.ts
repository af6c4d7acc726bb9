// EngineError → tRPC, in one place. Next.js bundles this module, so it does
// not import the engine's runtime (that would be a second copy of the engine's
// classes); it recognises an EngineError by shape and maps every code through
// one exhaustive table.
import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import type { EngineErrorCode } from '@berth/engine';

export const trpcCodeOf: Record<EngineErrorCode, TRPC_ERROR_CODE_KEY> = {
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'CONFLICT',
  INVALID_ARGUMENT: 'BAD_REQUEST',
  FORBIDDEN: 'FORBIDDEN',
  CONFLICT: 'CONFLICT',
  BUSY: 'CONFLICT',
  NOT_IMPLEMENTED: 'METHOD_NOT_SUPPORTED',
  DRIVER_UNAVAILABLE: 'PRECONDITION_FAILED',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

export interface EngineErrorLike extends Error {
  code: EngineErrorCode;
  field: string | undefined;
}

export function asEngineError(error: unknown): EngineErrorLike | undefined {
  if (!(error instanceof Error) || error.name !== 'EngineError') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code in trpcCodeOf ? (error as EngineErrorLike) : undefined;
}

/** An EngineError (found as the error or its cause) as the TRPCError to answer with; others unchanged. */
export function toTRPCError(error: unknown): unknown {
  const engineError =
    asEngineError(error) ?? asEngineError((error as { cause?: unknown } | undefined)?.cause);
  if (!engineError) return error;
  return new TRPCError({
    code: trpcCodeOf[engineError.code],
    message: engineError.message,
    cause: engineError,
  });
}

/** What the browser gets besides tRPC's shape: the engine's code and the field it is about. */
export interface ErrorData {
  engineCode: EngineErrorCode | null;
  field: string | null;
  /** Input validation issues by field path (zod), for forms. */
  fieldErrors: Record<string, string> | null;
}

export function errorData(error: TRPCError): ErrorData {
  const engineError = asEngineError(error.cause);
  let fieldErrors: Record<string, string> | null = null;
  // Input parsing failed: zod's issues (tRPC hands them over as a Standard
  // Schema error), keyed by field path.
  const issues = (error.cause as { issues?: unknown } | undefined)?.issues;
  if (error.code === 'BAD_REQUEST' && Array.isArray(issues)) {
    fieldErrors = {};
    for (const issue of issues as { path?: readonly unknown[]; message: string }[]) {
      const key =
        (issue.path ?? [])
          .map((p) => String(typeof p === 'object' && p !== null && 'key' in p ? p.key : p))
          .join('.') || '_';
      fieldErrors[key] ??= issue.message;
    }
  }
  return {
    engineCode: engineError?.code ?? null,
    field: engineError?.field ?? (fieldErrors ? (Object.keys(fieldErrors)[0] ?? null) : null),
    fieldErrors,
  };
}
