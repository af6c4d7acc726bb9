// Login attempts, limited per account and per address with token buckets
// (in memory: one server process). A bucket holds `capacity` attempts and
// refills one every `refillMs`; only failed attempts take a token, so a
// user who types the password right is never slowed down.

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

export interface LoginLimiterOptions {
  perAccount: BucketOptions;
  perAddress: BucketOptions;
}

export const defaultLoginLimits: LoginLimiterOptions = {
  // 5 wrong passwords in a row, then one more a minute.
  perAccount: { capacity: 5, refillMs: 60_000 },
  // 20 failures from one address, then one more every 15 seconds.
  perAddress: { capacity: 20, refillMs: 15_000 },
};

export class LoginLimiter {
  readonly #accounts: TokenBuckets;
  readonly #addresses: TokenBuckets;

  constructor(options: LoginLimiterOptions = defaultLoginLimits, now: () => number = Date.now) {
    this.#accounts = new TokenBuckets(options.perAccount, now);
    this.#addresses = new TokenBuckets(options.perAddress, now);
  }

  /** 0 when an attempt may be made now, else milliseconds to wait. */
  check(username: string, address: string): number {
    return Math.max(
      this.#accounts.retryAfterMs(username.toLowerCase()),
      this.#addresses.retryAfterMs(address),
    );
  }

  fail(username: string, address: string): void {
    this.#accounts.take(username.toLowerCase());
    this.#addresses.take(address);
  }

  sweep(): void {
    this.#accounts.sweep();
    this.#addresses.sweep();
  }
}
