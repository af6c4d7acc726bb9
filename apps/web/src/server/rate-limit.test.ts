import { describe, expect, it } from 'vitest';
import { ExponentialBackoff, LoginLimiter, TokenBuckets } from './rate-limit.ts';

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

describe('ExponentialBackoff', () => {
  it('lets the free failures through, then doubles the wait up to the cap', () => {
    let now = 0;
    const backoff = new ExponentialBackoff(
      { freeFailures: 2, initialMs: 100, maxMs: 500, forgetMs: 10_000 },
      () => now,
    );
    backoff.fail('k');
    expect(backoff.retryAfterMs('k')).toBe(0);
    backoff.fail('k');
    expect(backoff.retryAfterMs('k')).toBe(100);
    now = 100;
    expect(backoff.retryAfterMs('k')).toBe(0);
    backoff.fail('k');
    expect(backoff.retryAfterMs('k')).toBe(200);
    now = 300;
    backoff.fail('k');
    expect(backoff.retryAfterMs('k')).toBe(400);
    now = 700;
    backoff.fail('k');
    expect(backoff.retryAfterMs('k')).toBe(500);
    expect(backoff.retryAfterMs('other')).toBe(0);
  });

  it('forgets a key after a quiet while, and when cleared', () => {
    let now = 0;
    const backoff = new ExponentialBackoff(
      { freeFailures: 1, initialMs: 100, maxMs: 100_000, forgetMs: 1_000 },
      () => now,
    );
    for (let i = 0; i < 5; i++) backoff.fail('k');
    expect(backoff.retryAfterMs('k')).toBe(1600);
    now = 1_000;
    expect(backoff.retryAfterMs('k')).toBe(0);
    backoff.fail('k');
    expect(backoff.retryAfterMs('k')).toBe(100);
    backoff.clear('k');
    expect(backoff.retryAfterMs('k')).toBe(0);
  });
});

describe('LoginLimiter', () => {
  const limits = {
    perPair: { freeFailures: 3, initialMs: 1_000, maxMs: 60_000, forgetMs: 3_600_000 },
    perAddress: { capacity: 100, refillMs: 1000 },
  };

  it('slows one address guessing one account, never the account from elsewhere', () => {
    const limiter = new LoginLimiter(limits, () => 0);
    for (let i = 0; i < 50; i++) limiter.fail('Admin', '203.0.113.9');
    expect(limiter.check('admin', '203.0.113.9')).toBeGreaterThan(0);
    // The owner, from their own address, is not locked out.
    expect(limiter.check('admin', '10.0.0.2')).toBe(0);
    // Nor is the attacker's address for another account (until its own limit).
    expect(limiter.check('bob', '203.0.113.9')).toBe(0);
  });

  it('answers a longer wait with every further failure of the pair', () => {
    let now = 0;
    const limiter = new LoginLimiter(limits, () => now);
    for (let i = 0; i < 3; i++) limiter.fail('admin', 'a');
    const first = limiter.check('admin', 'a');
    now += first;
    expect(limiter.check('admin', 'a')).toBe(0);
    limiter.fail('admin', 'a');
    expect(limiter.check('admin', 'a')).toBe(2 * first);
  });

  it('clears the pair on success, not the address', () => {
    const limiter = new LoginLimiter(
      { ...limits, perAddress: { capacity: 4, refillMs: 60_000 } },
      () => 0,
    );
    for (let i = 0; i < 3; i++) limiter.fail('vera', 'a');
    expect(limiter.check('vera', 'a')).toBeGreaterThan(0);
    limiter.succeed('vera', 'a');
    expect(limiter.check('vera', 'a')).toBe(0);
    limiter.fail('dora', 'a');
    // The address has used its 4 failures: every account waits from there.
    expect(limiter.check('carl', 'a')).toBeGreaterThan(0);
    expect(limiter.check('carl', 'b')).toBe(0);
  });

  it('keeps pairs apart whatever characters address and name hold', () => {
    const limiter = new LoginLimiter(limits, () => 0);
    for (let i = 0; i < 3; i++) limiter.fail('b', 'a|');
    expect(limiter.check('b', 'a|')).toBeGreaterThan(0);
    expect(limiter.check('|b', 'a')).toBe(0);
  });
});
