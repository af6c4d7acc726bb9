import { EngineError } from '../errors';
import type { Parsed } from './parse-cpuset';

export interface RawLxcEntry {
  /** Lower-cased, as LXC reads keys. */
  key: string;
  value: string;
  /** 1-based line in the raw.lxc text, for messages. */
  line: number;
}

export interface RawLxcOptions {
  /** As LXD's LXD_UNPRIVILEGED_ONLY: refuse keys that could map host root in. */
  unprivilegedOnly?: boolean;
}

// Only per-interface addresses and gateways may be added to a NIC LXD/Berth configures.
const NET_KEY = /^lxc\.net\.[0-9]+\.ipv[46]\.(address|gateway)$/;

function keyProblem(key: string, options: RawLxcOptions): string | undefined {
  // Stricter than LXD, which passes any key through and lets lxc-start fail later.
  if (!key.startsWith('lxc.')) return `Unknown raw.lxc key "${key}" (LXC keys start with "lxc.")`;
  if (options.unprivilegedOnly && ['lxc.idmap', 'lxc.id_map', 'lxc.include'].includes(key)) {
    return `${key} can't be set in raw.lxc as Berth was configured to only allow unprivileged containers`;
  }
  // The engine owns logging and the instance's lifetime (same list as LXD's lxcValidConfig).
  if (key === 'lxc.logfile' || key === 'lxc.log.file') return 'Setting lxc.logfile is not allowed';
  if (key === 'lxc.syslog' || key === 'lxc.log.syslog')
    return 'Setting lxc.log.syslog is not allowed';
  if (key === 'lxc.ephemeral') return 'Setting lxc.ephemeral is not allowed';
  if (key.startsWith('lxc.prlimit.')) {
    return 'Process limits should be set via "limits.kernel.[limit name]" and not directly via "lxc.prlimit.[limit name]"';
  }
  // LXC 5 only knows `lxc.net.`; the pre-2.1 spelling would be silently wrong.
  if (key.startsWith('lxc.network.')) return `${key} is a pre-LXC 2.1 key; use lxc.net.<n>.*`;
  if (key.startsWith('lxc.net.') && !NET_KEY.test(key)) {
    return 'Only interface-specific ipv4/ipv6 lxc.net. keys are allowed';
  }
  return undefined;
}

/**
 * Parses `raw.lxc` as LXD's `lxcParseRawLXC` + `lxcValidConfig`: lines of
 * `key = value`, blank lines and `#` comments skipped, some keys refused.
 */
export function tryParseRawLxc(text: string, options: RawLxcOptions = {}): Parsed<RawLxcEntry[]> {
  const entries: RawLxcEntry[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\r$/, '').replace(/^[\t ]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    if (equals < 0)
      return { ok: false, reason: `line ${index + 1}: Invalid raw.lxc line: ${line}` };
    const key = line.slice(0, equals).trim().toLowerCase();
    const value = line.slice(equals + 1).trim();
    const problem = key === '' ? `Invalid raw.lxc line: ${line}` : keyProblem(key, options);
    if (problem !== undefined) return { ok: false, reason: `line ${index + 1}: ${problem}` };
    entries.push({ key, value, line: index + 1 });
  }
  return { ok: true, value: entries };
}

export function parseRawLxc(
  text: string,
  options: RawLxcOptions = {},
  field = 'config["raw.lxc"]',
): RawLxcEntry[] {
  const parsed = tryParseRawLxc(text, options);
  if (!parsed.ok) throw EngineError.invalid(field, parsed.reason);
  return parsed.value;
}
