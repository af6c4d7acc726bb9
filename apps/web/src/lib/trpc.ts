'use client';
// The browser's tRPC client over TanStack Query. Types come from the server's
// router (type-only import); nothing of the server is bundled.
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '~/server/trpc/root.ts';
import type { ErrorData } from '~/server/trpc/error-format.ts';

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export function makeTRPCClient() {
  return createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: '/api/trpc' })] });
}

export type Outputs = inferRouterOutputs<AppRouter>;

/** The message and the field an error is about, for forms and banners. */
export function describeError(error: unknown): {
  message: string;
  field: string | null;
  fieldErrors: Record<string, string>;
} {
  if (error instanceof TRPCClientError) {
    const data = (error.data ?? {}) as Partial<ErrorData>;
    return {
      message: error.message,
      field: data.field ?? null,
      fieldErrors: data.fieldErrors ?? {},
    };
  }
  return {
    message: error instanceof Error ? error.message : String(error),
    field: null,
    fieldErrors: {},
  };
}
