// EngineErrors and authorize's refusals → tRPC, through the one table
// (error-codes.ts); what the browser gets besides tRPC's own error shape.
import { TRPCError } from '@trpc/server';
import type { EngineErrorCode } from '@berth/engine';
import { codedErrorOf, errorCodes } from '../error-codes.ts';

/** A coded error (found as the error or its cause) as the TRPCError to answer with; others unchanged. */
export function toTRPCError(error: unknown): unknown {
  const coded = codedErrorOf(error);
  if (!coded) return error;
  return new TRPCError({ code: errorCodes[coded.code].trpc, message: coded.message, cause: coded });
}

/** What the browser gets besides tRPC's shape: the engine's code and the field it is about. */
export interface ErrorData {
  engineCode: EngineErrorCode | null;
  field: string | null;
  /** Input validation issues by field path (zod), for forms. */
  fieldErrors: Record<string, string> | null;
}

export function errorData(error: TRPCError): ErrorData {
  // The engine's errors only: a refusal of authorize() is tRPC's code alone.
  const coded = codedErrorOf(error.cause);
  const engineError = coded?.name === 'EngineError' ? coded : undefined;
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
    engineCode: (engineError?.code as EngineErrorCode | undefined) ?? null,
    field: engineError?.field ?? (fieldErrors ? (Object.keys(fieldErrors)[0] ?? null) : null),
    fieldErrors,
  };
}
