// Browser sessions without a browser: sign in and out through Auth.js's own
// endpoints as next-auth/react does, from a chosen loopback source address
// (the server rate-limits sign-ins per address), keeping the session cookie
// as a Cookie header a test can replay anywhere (tRPC, /1.0, socket.io).
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP exchange, from `localAddress` when given (any 127.x address reaches a loopback server). */
function exchange(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    localAddress?: string;
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** `name=value` of each Set-Cookie that sets (not clears) a cookie. */
function setCookies(headers: IncomingHttpHeaders): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const line of headers['set-cookie'] ?? []) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    cookies.set(name, value);
  }
  return cookies;
}

function cookieHeaderOf(cookies: Map<string, string>): string {
  return [...cookies]
    .filter(([, value]) => value !== '')
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
}

export const sessionCookieName = 'authjs.session-token';

/** The session cookie alone, as a Cookie header; null when `cookies` holds none. */
function sessionOnly(cookies: Map<string, string>): string | null {
  const value = cookies.get(sessionCookieName);
  return value ? `${sessionCookieName}=${value}` : null;
}

export interface SignInAnswer {
  /** The session cookie as a Cookie header; null when refused. */
  cookie: string | null;
  /** Auth.js's `code` of a refusal (`invalid`, `rate_limited`); null on success. */
  code: string | null;
}

async function csrf(base: string, cookie: string | undefined, localAddress?: string) {
  const answer = await exchange(`${base}/api/auth/csrf`, {
    headers: cookie ? { cookie } : {},
    ...(localAddress ? { localAddress } : {}),
  });
  if (answer.status !== 200) throw new Error(`csrf: ${answer.status} ${answer.body}`);
  const { csrfToken } = JSON.parse(answer.body) as { csrfToken: string };
  const cookies = setCookies(answer.headers);
  return { csrfToken, cookies };
}

/** Signs in with a password, as the login form does; from `localAddress` when given. */
export async function passwordSignIn(
  base: string,
  username: string,
  password: string,
  options: { localAddress?: string } = {},
): Promise<SignInAnswer> {
  const { localAddress } = options;
  const { csrfToken, cookies } = await csrf(base, undefined, localAddress);
  const answer = await exchange(`${base}/api/auth/callback/credentials`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: base,
      cookie: cookieHeaderOf(cookies),
      // next-auth/react's way of asking for the redirect as JSON instead of a 302.
      'x-auth-return-redirect': '1',
    },
    body: new URLSearchParams({
      username,
      password,
      csrfToken,
      callbackUrl: `${base}/instances`,
    }).toString(),
    ...(localAddress ? { localAddress } : {}),
  });
  const { url } = JSON.parse(answer.body) as { url: string };
  const refused = new URL(url).searchParams;
  if (refused.get('error'))
    return { cookie: null, code: refused.get('code') ?? refused.get('error') };
  const cookie = sessionOnly(setCookies(answer.headers));
  if (!cookie) throw new Error(`sign-in of ${username} answered no session cookie: ${answer.body}`);
  return { cookie, code: null };
}

/** Signs the session of `cookie` out, as the Sign out button does. */
export async function signOutSession(base: string, cookie: string): Promise<void> {
  const { csrfToken, cookies } = await csrf(base, cookie);
  const answer = await exchange(`${base}/api/auth/signout`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: base,
      cookie: `${cookie}; ${cookieHeaderOf(cookies)}`,
      'x-auth-return-redirect': '1',
    },
    body: new URLSearchParams({ csrfToken, callbackUrl: `${base}/login` }).toString(),
  });
  if (answer.status !== 200) throw new Error(`sign-out: ${answer.status} ${answer.body}`);
}

export interface CallAnswer {
  status: number;
  /** tRPC's error code, or the REST envelope's `error`; null on success. */
  error: string | null;
  body: unknown;
  /** The session cookie a Set-Cookie of the answer carries on with, as a Cookie header. */
  renewedCookie: string | null;
}

async function answerOf(res: Response): Promise<CallAnswer> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  const trpcCode = (body as { error?: { data?: { code?: string } } } | null)?.error?.data?.code;
  const restError = (body as { error?: string } | null)?.error;
  const renewed = res.headers
    .getSetCookie()
    .map((line) => line.split(';')[0]!)
    .find(
      (pair) =>
        pair.startsWith(`${sessionCookieName}=`) && pair.length > sessionCookieName.length + 1,
    );
  return {
    status: res.status,
    error: trpcCode ?? (typeof restError === 'string' && restError !== '' ? restError : null),
    body,
    renewedCookie: renewed ?? null,
  };
}

export type Credentials = { cookie: string } | { token: string };

function authHeaders(credentials: Credentials, base: string): Record<string, string> {
  return 'cookie' in credentials
    ? { cookie: credentials.cookie, origin: base }
    : { authorization: `Bearer ${credentials.token}` };
}

/** A tRPC query or mutation with a session cookie or an API token. */
export async function trpcAs(
  base: string,
  credentials: Credentials,
  type: 'query' | 'mutation',
  path: string,
  input?: unknown,
): Promise<CallAnswer> {
  const headers = authHeaders(credentials, base);
  const res =
    type === 'query'
      ? await fetch(
          `${base}/api/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
          { headers },
        )
      : await fetch(`${base}/api/trpc/${path}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(input ?? {}),
        });
  return answerOf(res);
}

/** A /1.0 request with a session cookie or an API token. */
export async function restAs(
  base: string,
  credentials: Credentials,
  method: string,
  path: string,
  body?: unknown,
): Promise<CallAnswer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...authHeaders(credentials, base),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return answerOf(res);
}
