import { describe, expect, it } from 'vitest';
import { LoginLimiter, TokenBuckets } from './rate-limit.ts';

describe('TokenBuckets', () => {
  it('allows `capacity` takes, then refills one per interval', () => {
    let now = 0;
    const buckets = new TokenBuckets({ capacity: 3, refillMs: 1000 }, () => now);
    for (let i = 0; i < 3; i++) {
      expect(buckets.allows('k')).toBe(true);
      buckets.take('k');
    }
    expect(buckets.allows('k')).toBe(false);
    expect(buckets.retryAfterMs('k')).toBe(1000);
    now = 999;
    expect(buckets.allows('k')).toBe(false);
    now = 1000;
    expect(buckets.allows('k')).toBe(true);
    buckets.take('k');
    expect(buckets.allows('k')).toBe(false);
    now = 10_000;
    buckets.sweep();
    expect(buckets.allows('k')).toBe(true);
  });
});

describe('LoginLimiter', () => {
  it('limits per account, whatever the address', () => {
    const limiter = new LoginLimiter(
      {
        perAccount: { capacity: 2, refillMs: 1000 },
        perAddress: { capacity: 100, refillMs: 1000 },
      },
      () => 0,
    );
    limiter.fail('Alice', '10.0.0.1');
    expect(limiter.check('alice', '10.0.0.2')).toBe(0);
    limiter.fail('alice', '10.0.0.2');
    expect(limiter.check('alice', '10.0.0.3')).toBeGreaterThan(0);
    expect(limiter.check('bob', '10.0.0.3')).toBe(0);
  });

  it('limits per address, whatever the account', () => {
    const limiter = new LoginLimiter(
      {
        perAccount: { capacity: 100, refillMs: 1000 },
        perAddress: { capacity: 2, refillMs: 1000 },
      },
      () => 0,
    );
    limiter.fail('a', '10.0.0.1');
    limiter.fail('b', '10.0.0.1');
    expect(limiter.check('c', '10.0.0.1')).toBeGreaterThan(0);
    expect(limiter.check('c', '10.0.0.2')).toBe(0);
  });
});
