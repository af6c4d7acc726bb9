// A real engine over a real, migrated SQLite file in a temporary data dir.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine, type Engine } from '../../src/index.ts';
import type { Event } from '../../src/schemas/index.ts';

export interface TestEngine {
  engine: Engine;
  dataDir: string;
  events: Event[];
  cleanup(): Promise<void>;
}

export async function startTestEngine(dataDir?: string): Promise<TestEngine> {
  const dir = dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'berth-engine-test-')));
  const engine = await createEngine({ dataDir: dir, defaultNetwork: null });
  const events: Event[] = [];
  engine.events.subscribe({}, (e) => events.push(e));
  return {
    engine,
    dataDir: dir,
    events,
    async cleanup() {
      await engine.close();
      if (!dataDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The error an async call rejects with (fails the test when it resolves). */
export async function errorOf(promise: Promise<unknown>): Promise<{ code: string; message: string; field?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; field?: string };
  }
  throw new Error('expected the call to fail, but it succeeded');
}
