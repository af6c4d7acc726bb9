// Login attempts, limited in memory (one server process) two ways, and never
// per account alone: a limit on the account by itself would let anyone lock
// its owner out (five wrong passwords for `admin` from anywhere).
//
//   per (address, account) pair  a few free failures, then an exponential
//                                backoff: each further failure doubles the
//                                wait before the next try from that address
//   per address                  a token bucket over all accounts, so one
//                                address cannot spray passwords across users
//
// Only failures count. The right password from another address is never
// slowed by what an attacker does from theirs; a success clears its pair.

export interface BucketOptions {
  capacity: number;
  refillMs: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #options: BucketOptions;
  readonly #now: () => number;

  constructor(options: BucketOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  #refilled(key: string): Bucket {
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#options.capacity, at: now };
    const earned = Math.floor((now - bucket.at) / this.#options.refillMs);
    if (earned > 0) {
      bucket.tokens = Math.min(this.#options.capacity, bucket.tokens + earned);
      bucket.at =
        bucket.tokens === this.#options.capacity
          ? now
          : bucket.at + earned * this.#options.refillMs;
    }
    return bucket;
  }

  /** Is there an attempt left for `key`? */
  allows(key: string): boolean {
    return this.#refilled(key).tokens >= 1;
  }

  /** Takes one attempt from `key`'s bucket. */
  take(key: string): void {
    const bucket = this.#refilled(key);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.#buckets.set(key, bucket);
  }

  /** Milliseconds until `key` has an attempt again (0 when it has one). */
  retryAfterMs(key: string): number {
    const bucket = this.#refilled(key);
    if (bucket.tokens >= 1) return 0;
    return Math.max(0, bucket.at + this.#options.refillMs - this.#now());
  }

  /** Drops full buckets, so the map does not grow with every address seen. */
  sweep(): void {
    for (const [key] of this.#buckets) {
      if (this.#refilled(key).tokens >= this.#options.capacity) this.#buckets.delete(key);
    }
  }
}

export interface BackoffOptions {
  /** Failures in a row before the first wait (at least 1). */
  freeFailures: number;
  /** The wait after the last free failure; it doubles with each further one. */
  initialMs: number;
  /** The longest wait. */
  maxMs: number;
  /** A key whose last failure is this old starts afresh. */
  forgetMs: number;
}

interface Failures {
  count: number;
  last: number;
}

/** Failures in a row per key, answered with a wait that doubles. */
export class ExponentialBackoff {
  readonly #failures = new Map<string, Failures>();
  readonly #options: BackoffOptions;
  readonly #now: () => number;

  constructor(options: BackoffOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  #current(key: string): Failures | undefined {
    const failures = this.#failures.get(key);
    if (failures && this.#now() - failures.last >= this.#options.forgetMs) {
      this.#failures.delete(key);
      return undefined;
    }
    return failures;
  }

  /** The wait owed after `count` failures in a row. */
  #waitAfter(count: number): number {
    const { freeFailures, initialMs, maxMs } = this.#options;
    if (count < freeFailures) return 0;
    // 2 ** 40 ms is decades: cap the exponent before it overflows into Infinity.
    return Math.min(maxMs, initialMs * 2 ** Math.min(count - freeFailures, 40));
  }

  /** Milliseconds until `key` may try again (0: now). */
  retryAfterMs(key: string): number {
    const failures = this.#current(key);
    if (!failures) return 0;
    return Math.max(0, failures.last + this.#waitAfter(failures.count) - this.#now());
  }

  fail(key: string): void {
    const failures = this.#current(key) ?? { count: 0, last: 0 };
    failures.count++;
    failures.last = this.#now();
    this.#failures.set(key, failures);
  }

  clear(key: string): void {
    this.#failures.delete(key);
  }

  /** Drops forgotten keys. */
  sweep(): void {
    for (const [key] of this.#failures) this.#current(key);
  }
}

export interface LoginLimiterOptions {
  perPair: BackoffOptions;
  perAddress: BucketOptions;
}

export const defaultLoginLimits: LoginLimiterOptions = {
  // 5 wrong passwords for one account from one address, then 1 s, 2 s, 4 s ... up to 15 min.
  perPair: { freeFailures: 5, initialMs: 1_000, maxMs: 15 * 60_000, forgetMs: 24 * 60 * 60_000 },
  // 20 failures from one address over all accounts, then one more every 15 seconds.
  perAddress: { capacity: 20, refillMs: 15_000 },
};

export class LoginLimiter {
  readonly #pairs: ExponentialBackoff;
  readonly #addresses: TokenBuckets;

  constructor(options: LoginLimiterOptions = defaultLoginLimits, now: () => number = Date.now) {
    this.#pairs = new ExponentialBackoff(options.perPair, now);
    this.#addresses = new TokenBuckets(options.perAddress, now);
  }

  /** One key per (address, account): JSON keeps any character of either from blurring the two. */
  #pair(username: string, address: string): string {
    return JSON.stringify([address, username.toLowerCase()]);
  }

  /** 0 when an attempt may be made now, else milliseconds to wait. */
  check(username: string, address: string): number {
    return Math.max(
      this.#pairs.retryAfterMs(this.#pair(username, address)),
      this.#addresses.retryAfterMs(address),
    );
  }

  fail(username: string, address: string): void {
    this.#pairs.fail(this.#pair(username, address));
    this.#addresses.take(address);
  }

  /**
   * The right password: its pair starts afresh. The address's bucket does
   * not, or one account of one's own would reset the spraying limit.
   */
  succeed(username: string, address: string): void {
    this.#pairs.clear(this.#pair(username, address));
  }

  sweep(): void {
    this.#pairs.sweep();
    this.#addresses.sweep();
  }
}
