// The web server's environment, parsed once with zod at start. Nothing else
// in apps/web reads process.env; the rest receives this parsed object.
import { isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

/** `host:port`, `[v6]:port` or `:port` (loopback). */
export interface ListenAddress {
  host: string;
  port: number;
  loopback: boolean;
}

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const hostName =
  /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

export function parseListen(value: string): ListenAddress {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (!match) throw new Error(`must be "host:port", "[ipv6]:port" or ":port", got "${value}"`);
  const [, v6, name, digits] = match;
  if (v6 !== undefined && !isIPv6(v6)) throw new Error(`"${v6}" is not an IPv6 address`);
  if (name && /^[\d.]+$/.test(name) && !isIPv4(name))
    throw new Error(`"${name}" is not an IPv4 address`);
  if (name && !isIPv4(name) && !hostName.test(name))
    throw new Error(`"${name}" is not an IP address or host name`);
  const host = v6 ?? (name || '127.0.0.1');
  const port = Number(digits);
  if (port > 65535) throw new Error(`port ${port} is out of range (0-65535)`);
  return { host, port, loopback: isLoopback(host) };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const Env = z
  .object({
    BERTH_DATA_DIR: z.string().min(1).default('./data'),
    BERTH_LISTEN: z
      .string()
      .default('127.0.0.1:8443')
      .transform((value, ctx) => {
        try {
          return parseListen(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
    BERTH_TLS_CERT: optionalString,
    BERTH_TLS_KEY: optionalString,
    BERTH_SESSION_SECRET: optionalString.refine(
      (v) => v === undefined || v.length >= 32,
      'must be at least 32 characters',
    ),
    /** Session lifetime in seconds (default 8 hours). */
    BERTH_SESSION_MAX_AGE: z.coerce
      .number()
      .int()
      .min(60)
      .default(8 * 60 * 60),
    BERTH_ADMIN_USER: z
      .string()
      .regex(
        /^[a-z_][a-z0-9_.-]{0,31}$/,
        'must be a lower-case user name (letters, digits, "_", "-", ".")',
      )
      .default('admin'),
    BERTH_ADMIN_PASSWORD: optionalString.refine(
      (v) => v === undefined || v.length >= 12,
      'must be at least 12 characters',
    ),
    BERTH_LOCATION: z.string().min(1).default('none'),
    /** The managed bridge new installs get (tests use their own names). */
    BERTH_BRIDGE: z
      .string()
      .regex(
        /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/,
        'must be an interface name of at most 15 characters',
      )
      .default('berthbr0'),
    /** Where image builders keep downloads (kernel packages) between builds; default `<data dir>/cache`. */
    BERTH_CACHE_DIR: optionalString,
    BERTH_OIDC_ISSUER: optionalString,
    BERTH_OIDC_CLIENT_ID: optionalString,
    BERTH_OIDC_CLIENT_SECRET: optionalString,
    BERTH_OIDC_NAME: z.string().default('Single sign-on'),
  })
  .superRefine((env, ctx) => {
    // Which one is missing, named: the error reads "BERTH_TLS_KEY: is required ...".
    for (const [set, missing] of [
      ['BERTH_TLS_CERT', 'BERTH_TLS_KEY'],
      ['BERTH_TLS_KEY', 'BERTH_TLS_CERT'],
    ] as const) {
      if (env[set] !== undefined && env[missing] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [missing],
          message: `is required when ${set} is set (a certificate and its private key go together)`,
        });
    }
    const oidc = [env.BERTH_OIDC_ISSUER, env.BERTH_OIDC_CLIENT_ID, env.BERTH_OIDC_CLIENT_SECRET];
    if (oidc.some((v) => v !== undefined) && oidc.some((v) => v === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['BERTH_OIDC_ISSUER'],
        message:
          'BERTH_OIDC_ISSUER, BERTH_OIDC_CLIENT_ID and BERTH_OIDC_CLIENT_SECRET must be set together',
      });
    }
  });

export interface WebEnv {
  dataDir: string;
  listen: ListenAddress;
  tls: { cert: string; key: string } | undefined;
  sessionSecret: string | undefined;
  sessionMaxAge: number;
  adminUser: string;
  adminPassword: string | undefined;
  location: string;
  bridge: string;
  cacheDir: string | undefined;
  oidc: { issuer: string; clientId: string; clientSecret: string; name: string } | undefined;
}

export function parseEnv(env: Record<string, string | undefined> = process.env): WebEnv {
  const result = Env.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`Environment variable ${issue.path.join('.') || '?'}: ${issue.message}`);
  }
  const e = result.data;
  return {
    dataDir: path.resolve(e.BERTH_DATA_DIR),
    listen: e.BERTH_LISTEN,
    tls:
      e.BERTH_TLS_CERT && e.BERTH_TLS_KEY
        ? { cert: path.resolve(e.BERTH_TLS_CERT), key: path.resolve(e.BERTH_TLS_KEY) }
        : undefined,
    sessionSecret: e.BERTH_SESSION_SECRET,
    sessionMaxAge: e.BERTH_SESSION_MAX_AGE,
    adminUser: e.BERTH_ADMIN_USER,
    adminPassword: e.BERTH_ADMIN_PASSWORD,
    location: e.BERTH_LOCATION,
    bridge: e.BERTH_BRIDGE,
    cacheDir: e.BERTH_CACHE_DIR ? path.resolve(e.BERTH_CACHE_DIR) : undefined,
    oidc:
      e.BERTH_OIDC_ISSUER && e.BERTH_OIDC_CLIENT_ID && e.BERTH_OIDC_CLIENT_SECRET
        ? {
            issuer: e.BERTH_OIDC_ISSUER,
            clientId: e.BERTH_OIDC_CLIENT_ID,
            clientSecret: e.BERTH_OIDC_CLIENT_SECRET,
            name: e.BERTH_OIDC_NAME,
          }
        : undefined,
  };
}
