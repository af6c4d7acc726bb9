import { z } from 'zod';

/**
 * Small value checks shared by the config-key and device tables. Each returns
 * the reason a value is wrong, or `undefined`, in LXD's wording where LXD has
 * one (`shared/validate`), so API errors read the same as LXD's.
 *
 * Pure string work only: this module ends up in the client-safe schemas entry,
 * so no `node:` imports (IP parsing is done by hand for that reason).
 */
export type Check = (value: string) => string | undefined;

/** LXD's `validate.Optional`: the empty string means "unset" and is always fine. */
export function optional(...checks: Check[]): Check {
  return (value) => (value === '' ? undefined : all(...checks)(value));
}

/** LXD's `validate.Required`: every check must pass, first failure wins. */
export function all(...checks: Check[]): Check {
  return (value) => {
    for (const check of checks) {
      const problem = check(value);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

/** Wraps a check as a zod schema, so forms and tRPC inputs can reuse the same rule. */
export function schemaOf(check: Check): z.ZodType<string> {
  return z.string().superRefine((value, ctx) => {
    const problem = check(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/** The first issue's message of a failed zod parse, or `undefined` when it passed. */
export function schemaProblem(schema: z.ZodType<string>, value: string): string | undefined {
  const result = schema.safeParse(value);
  if (result.success) return undefined;
  return result.error.issues[0]?.message ?? 'Invalid value';
}

/** Go's `%q` for the strings we quote (close enough: JSON escaping). */
export function quote(value: string): string {
  return JSON.stringify(value);
}

export const isAny: Check = () => undefined;

const TRUE_WORDS = ['true', 'yes', 'on', '1'];
const BOOL_WORDS = [...TRUE_WORDS, 'false', 'no', 'off', '0'];

/** LXD's `shared.IsTrue`: true, yes, on, 1 in any case. */
export function isTrue(value: string | undefined): boolean {
  return value !== undefined && TRUE_WORDS.includes(value.toLowerCase());
}

/** LXD's `shared.IsFalseOrEmpty`. */
export function isFalseOrEmpty(value: string | undefined): boolean {
  return (
    value === undefined || value === '' || ['false', 'no', 'off', '0'].includes(value.toLowerCase())
  );
}

export const isBool: Check = (value) =>
  BOOL_WORDS.includes(value.toLowerCase())
    ? undefined
    : `Invalid value for a boolean ${quote(value)}`;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's `strconv.ParseInt(v, 10, 64)`: optional sign, decimal digits, in int64 range. */
export const isInt64: Check = (value) => {
  const message = `Invalid value for an integer ${quote(value)}`;
  if (!/^[+-]?[0-9]+$/.test(value)) return message;
  const n = BigInt(value);
  return n < INT64_MIN || n > INT64_MAX ? message : undefined;
};

/** Go's `strconv.ParseUint(v, 10, 32)`: digits only (no sign), at most 4294967295. */
export const isUint32: Check = (value) =>
  /^[0-9]+$/.test(value) && BigInt(value) <= 0xffffffffn
    ? undefined
    : `Invalid value for uint32 ${quote(value)}`;

export function isOneOf(...valid: string[]): Check {
  return (value) =>
    valid.includes(value)
      ? undefined
      : `Invalid value ${quote(value)} (not one of ${valid.map(quote).join(', ')})`;
}

export const isUuid: Check = (value) =>
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(value)
    ? undefined
    : 'Invalid UUID';

/** LXD's `IsNetworkMAC`: six colon-separated hex bytes, nothing else. */
export const isMac: Check = (value) =>
  /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value)
    ? undefined
    : 'Invalid MAC address, must be 6 bytes of hex separated by colons';

/** LXD's `IsInterfaceName`: what the kernel takes as a network interface name. */
export const isInterfaceName: Check = (value) => {
  if (value.length < 2) return 'Network interface is too short (minimum 2 characters)';
  if (value.length > 15) return 'Network interface is too long (maximum 15 characters)';
  if (!/^[-_a-zA-Z0-9.]+$/.test(value)) return 'Network interface contains invalid characters';
  return undefined;
};

export const isAbsolutePath: Check = (value) => {
  if (!value.startsWith('/')) return `Must be an absolute path ${quote(value)}`;
  if (value.includes('\0')) return 'Path contains a NUL byte';
  return lineBreakIn(value) ? 'Path contains a line break' : undefined;
};

function lineBreakIn(value: string): boolean {
  return /[\n\r]/.test(value);
}

/**
 * A value that becomes one line of a generated config file (LXC's
 * `key = value`): a line break would end it and smuggle in keys of the
 * caller's choosing, and C strings end at NUL.
 */
export function isSingleLine(what: string): Check {
  return (value) => {
    if (value.includes('\0')) return `${what} cannot contain a NUL byte`;
    if (lineBreakIn(value)) return `${what} cannot contain a line break`;
    return undefined;
  };
}

/**
 * The name part of `environment.NAME`: it is written as
 * `lxc.environment = NAME=value` and passed to exec, so no "=", no
 * whitespace and no control characters (line breaks, NUL, escapes).
 */
export const isEnvironmentName: Check = (name) => {
  if (name.includes('=')) return 'Environment variable names cannot contain "="';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name))
    return 'Environment variable names cannot contain control characters (line breaks, NUL)';
  if (/\s/.test(name)) return 'Environment variable names cannot contain whitespace';
  return undefined;
};

/** Octal file mode as `chmod` takes it (LXD accepts any octal uint32; 07777 is all a mode has). */
export const isOctalMode: Check = (value) =>
  /^[0-7]{1,5}$/.test(value) && parseInt(value, 8) <= 0o7777
    ? undefined
    : 'Invalid value for an octal file mode';

/** Parses dotted-quad IPv4 as Go's `net.ParseIP` does (no leading zeros). */
export function parseIPv4(value: string): number[] | undefined {
  const parts = value.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

/** Parses an IPv6 address (with `::` and an optional trailing dotted quad) into 8 groups. */
export function parseIPv6(value: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(value)) return undefined;
  const halves = value.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (text: string, allowV4: boolean): number[] | undefined => {
    if (text === '') return [];
    const out: number[] = [];
    const parts = text.split(':');
    for (const [index, part] of parts.entries()) {
      if (allowV4 && index === parts.length - 1 && part.includes('.')) {
        const v4 = parseIPv4(part);
        if (v4 === undefined) return undefined;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      out.push(parseInt(part, 16));
    }
    return out;
  };
  const [head = '', tail] = halves;
  if (tail === undefined) {
    const groups = groupsOf(head, true);
    return groups?.length === 8 ? groups : undefined;
  }
  const first = groupsOf(head, false);
  const last = groupsOf(tail, true);
  if (first === undefined || last === undefined || first.length + last.length > 7) return undefined;
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

export function ipVersion(value: string): 4 | 6 | undefined {
  if (parseIPv4(value) !== undefined) return 4;
  if (parseIPv6(value) !== undefined) return 6;
  return undefined;
}

export const isIPv4: Check = (value) =>
  parseIPv4(value) ? undefined : `Not an IPv4 address ${quote(value)}`;
export const isIPv6: Check = (value) =>
  parseIPv6(value) ? undefined : `Not an IPv6 address ${quote(value)}`;

/** Bits of an address as a bigint, for prefix checks. */
function addressBits(version: 4 | 6, value: string): bigint | undefined {
  const parts = version === 4 ? parseIPv4(value) : parseIPv6(value);
  if (parts === undefined) return undefined;
  const width = version === 4 ? 8n : 16n;
  return parts.reduce((acc, part) => (acc << width) | BigInt(part), 0n);
}

/** LXD's `IsNetworkV4`/`IsNetworkV6`: a CIDR whose host bits are zero (`10.0.0.0/24`). */
export function isNetwork(version: 4 | 6): Check {
  const label = version === 4 ? 'IPv4' : 'IPv6';
  return (value) => {
    const [address = '', prefix, extra] = value.split('/');
    const total = version === 4 ? 32 : 128;
    if (
      prefix === undefined ||
      extra !== undefined ||
      !/^[0-9]{1,3}$/.test(prefix) ||
      Number(prefix) > total
    ) {
      return `Not an ${label} network ${quote(value)}`;
    }
    const bits = addressBits(version, address);
    if (bits === undefined) return `Not an ${label} network ${quote(value)}`;
    const hostBits = BigInt(total - Number(prefix));
    if (hostBits > 0n && (bits & ((1n << hostBits) - 1n)) !== 0n)
      return `Not an ${label} network address ${quote(value)}`;
    return undefined;
  };
}

/** LXD's `IsListOf`: comma-separated items, each trimmed and checked. */
export function isListOf(check: Check): Check {
  return (value) => {
    for (const item of value.split(',').map((part) => part.trim())) {
      const problem = check(item);
      if (problem !== undefined) return `Item ${quote(item)}: ${problem}`;
    }
    return undefined;
  };
}

/** A text that must not contain a character (e.g. `/` in names that become paths). */
export function lacks(characters: string, what: string): Check {
  return (value) => {
    for (const character of characters) {
      if (value.includes(character)) return `${what} cannot contain ${quote(character)}`;
    }
    return undefined;
  };
}
