// A real engine over a real, migrated SQLite file in a temporary data dir.
import { randomBytes } from 'node:crypto';
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

export interface TestEngineOptions {
  /** A managed bridge for the default profile's eth0, named so it cannot collide (`bt` + hex). */
  network?: string;
  /** The engine's minute pass (scheduled snapshots, expiry pruning); off unless asked. */
  scheduler?: boolean;
}

/** A bridge name no user would pick, short enough for an interface. */
/** Builders' downloads, shared by every test engine on this machine (the e2e servers' too). */
export const TEST_CACHE_DIR = path.join(os.tmpdir(), 'berth-build-cache');

export function testBridgeName(): string {
  return `bt${randomBytes(5).toString('hex')}`;
}

export async function startTestEngine(
  dataDir?: string,
  options: TestEngineOptions = {},
): Promise<TestEngine> {
  const dir = dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'berth-engine-test-')));
  const engine = await createEngine({
    dataDir: dir,
    defaultNetwork: options.network ?? null,
    scheduler: options.scheduler ?? false,
    // Kernel and agent packages for VM images: downloaded once per machine, not per test.
    cacheDir: TEST_CACHE_DIR,
  });
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
export async function errorOf(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; field?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; field?: string };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/**
 * Removes what a test engine put on the host: its instances (stopped by
 * their own name) and its bridge with its dnsmasq (by the network's own pid file).
 */
export async function removeHostState(engine: Engine, network?: string): Promise<void> {
  for (const instance of await engine.instances.list(undefined)) {
    await engine.instances.delete(instance.project, instance.name, { force: true }).catch(() => {});
  }
  if (network) await engine.networks.stop(network).catch(() => {});
}

/** Polls `fn` until `ok` holds (things that happen asynchronously on the host). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
