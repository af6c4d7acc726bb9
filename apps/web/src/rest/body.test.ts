import { describe, expect, it } from 'vitest';
import { readLimited } from './body.ts';
import { RestError } from './envelope.ts';

async function* chunks(sizes: number[], seen: number[]): AsyncGenerator<Uint8Array> {
  for (const size of sizes) {
    seen.push(size);
    yield new Uint8Array(size);
  }
}

async function statusOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (error instanceof RestError) return error.status;
    throw error;
  }
}

describe('readLimited', () => {
  it('reads a body up to the limit', async () => {
    const body = await readLimited(chunks([3, 4, 3], []), '10', 10);
    expect(body.length).toBe(10);
  });

  it('refuses a declared length over the limit before reading anything', async () => {
    const seen: number[] = [];
    expect(await statusOf(readLimited(chunks([1], seen), String(50 * 1024 * 1024), 10))).toBe(413);
    expect(seen).toEqual([]);
  });

  it('stops reading a chunked body once it passes the limit', async () => {
    const seen: number[] = [];
    expect(await statusOf(readLimited(chunks([6, 6, 6, 6], seen), null, 10))).toBe(413);
    // The third chunk is never asked for.
    expect(seen).toEqual([6, 6]);
  });
});
