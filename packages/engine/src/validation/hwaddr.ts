import { EngineError } from '../errors';
import { cryptoRandom, randomInt, type RandomSource } from './random-source';

/**
 * Prefix for generated MACs. LXD uses the Xensource OUI 00:16:3e, a vendor's
 * globally administered block; Berth sets the locally-administered bit of the
 * same prefix (02:16:3e), as generated addresses should, so it can never
 * collide with a real Xen NIC on the same segment.
 */
export const HWADDR_PREFIX = '02:16:3e';

// No retry limit in LXD (it does not check uniqueness); 2^24 addresses make a
// long run of collisions mean a broken random source, not bad luck.
const MAX_ATTEMPTS = 1000;

const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/**
 * As LXD's `validate.IsNetworkMAC`: six bytes of hex separated by colons, either
 * case (`00:16:3E:AB:cd:01` is fine, `00-16-3e-ab-cd-01` and `0016.3eab.cd01` are not).
 */
export function isValidHwaddr(value: string): boolean {
  return MAC_PATTERN.test(value);
}

/** Throws an INVALID_ARGUMENT `EngineError` naming `field` unless `value` is a valid MAC. */
export function validHwaddr(value: string, field = 'hwaddr'): void {
  if (!isValidHwaddr(value)) {
    throw EngineError.invalid(
      field,
      'Invalid MAC address, must be 6 bytes of hex separated by colons',
    );
  }
}

function randomByte(random: RandomSource): string {
  return randomInt(random, 256).toString(16).padStart(2, '0');
}

/**
 * A random lower-case MAC `02:16:3e:xx:xx:xx` not in `existing` (compared
 * case-insensitively, as MACs are). Inject `random` for deterministic tests.
 * Throws CONFLICT if 1000 draws in a row collide.
 */
export function nextInterfaceHwaddr(
  existing: Iterable<string> = [],
  random: RandomSource = cryptoRandom,
): string {
  const taken = new Set<string>();
  for (const hwaddr of existing) taken.add(hwaddr.toLowerCase());

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const hwaddr = `${HWADDR_PREFIX}:${randomByte(random)}:${randomByte(random)}:${randomByte(random)}`;
    if (!taken.has(hwaddr)) return hwaddr;
  }
  throw new EngineError(
    'CONFLICT',
    `hwaddr: no unused MAC address found after ${MAX_ATTEMPTS} attempts`,
    { field: 'hwaddr' },
  );
}
