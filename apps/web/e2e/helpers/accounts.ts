// Accounts in the browser: sign in (through the forced password change when
// asked), sign out, and tRPC calls whose refusals are the point of a test.
import type { APIRequestContext, Page } from 'playwright-core';

export async function signIn(page: Page, base: string, username: string, password: string) {
  await page.goto(`${base}/login`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** The first sign-in of a user given a password: it must be changed before anything else. */
export async function signInChangingPassword(
  page: Page,
  base: string,
  username: string,
  given: string,
  chosen: string,
) {
  await signIn(page, base, username, given);
  await page.waitForURL(/\/change-password$/);
  await page.getByLabel('Current password').fill(given);
  await page.getByLabel('New password (at least 12 characters)').fill(chosen);
  await page.getByLabel('New password again').fill(chosen);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.waitForURL(/\/instances$/);
}

export async function signOut(page: Page, base: string) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  // Back on this server's own login page (not an address Auth.js made up).
  await page.waitForURL(`${base}/login`);
}

export interface TrpcAnswer<T = unknown> {
  status: number;
  /** tRPC's error code (`FORBIDDEN`, `NOT_FOUND`, ...); null on success. */
  code: string | null;
  message: string | null;
  data: T | null;
}

async function answer<T>(res: {
  status: number;
  json(): Promise<unknown>;
}): Promise<TrpcAnswer<T>> {
  const body = (await res.json()) as {
    result?: { data: T };
    error?: { message: string; data?: { code?: string } };
  };
  return {
    status: res.status,
    code: body.error?.data?.code ?? null,
    message: body.error?.message ?? null,
    data: body.result?.data ?? null,
  };
}

/** A tRPC call with the browser's cookies, answered whether it succeeds or not. */
export async function trpcCall<T = unknown>(
  request: APIRequestContext,
  base: string,
  type: 'query' | 'mutation',
  path: string,
  input: unknown,
): Promise<TrpcAnswer<T>> {
  const res =
    type === 'query'
      ? await request.get(
          `${base}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`,
        )
      : await request.post(`${base}/api/trpc/${path}`, {
          data: input,
          headers: { 'content-type': 'application/json' },
        });
  return answer<T>({ status: res.status(), json: () => res.json() });
}

/** A tRPC query with an API token and no cookies at all, as a script would send it. */
export async function trpcQueryWithToken<T = unknown>(
  base: string,
  token: string,
  path: string,
  input?: unknown,
): Promise<TrpcAnswer<T>> {
  const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  const res = await fetch(`${base}/api/trpc/${path}${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return answer<T>(res);
}
