// An engine's end, two ways: an ordinary close (SIGTERM to the server) leaves
// instances running; a host shutdown (close({ shutdownInstances: true }), LXD's
// SIGPWR) shuts running ones down cleanly, and the next start restores them as
// they were: running again unless `boot.autostart=false`, stopped ones stopped.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeHostState, startTestEngine, testBridgeName, type TestEngine } from './helpers.ts';

const bridge = testBridgeName();
let dataDir: string;
let t: TestEngine;

const UP = 't-hs-up';
const DOWN = 't-hs-down';
const NEVER = 't-hs-never';

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-host-shutdown-'));
  t = await startTestEngine(dataDir, { network: bridge });
  const build = await t.engine.operations.wait(
    (await t.engine.images.buildBusybox('default', { alias: 'busybox' })).id,
  );
  expect(build.status).toBe('Success');
  const source = { type: 'image' as const, alias: 'busybox' };
  await t.engine.instances.createAndWait('default', { name: UP, source, start: true });
  await t.engine.instances.createAndWait('default', { name: DOWN, source });
  await t.engine.instances.createAndWait('default', {
    name: NEVER,
    source,
    start: true,
    config: { 'boot.autostart': 'false' },
  });
}, 180_000);

afterAll(async () => {
  if (t) {
    await removeHostState(t.engine, bridge);
    await t.engine.close();
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 120_000);

async function pidOf(name: string): Promise<number> {
  return (await t.engine.instances.state('default', name)).pid;
}

describe('engine close and host shutdown', () => {
  it('leaves instances running on an ordinary close', async () => {
    const before = { up: await pidOf(UP), never: await pidOf(NEVER) };
    await t.engine.close();
    // Nothing was stopped: the containers' init processes live on without any engine.
    expect(existsSync(`/proc/${before.up}`)).toBe(true);
    expect(existsSync(`/proc/${before.never}`)).toBe(true);
    t = await startTestEngine(dataDir, { network: bridge });
    expect(await pidOf(UP)).toBe(before.up);
    expect(await pidOf(NEVER)).toBe(before.never);
    expect((await t.engine.instances.get('default', DOWN)).status).toBe('Stopped');
  }, 120_000);

  it('shuts running instances down cleanly for a host shutdown, and restores them at the next start', async () => {
    const before = { up: await pidOf(UP), never: await pidOf(NEVER) };
    const events = t.events;
    await t.engine.close({ shutdownInstances: true });

    // Both running ones went down by a clean shutdown (not a forced stop), and their processes are gone.
    const shutdowns = events
      .filter((e) => e.type === 'lifecycle')
      .map((e) => e.metadata as { action: string; source: string })
      .filter((m) => m.action === 'instance-shutdown' || m.action === 'instance-stopped');
    expect(shutdowns.map((m) => `${m.action} ${path.basename(m.source)}`).sort()).toEqual([
      `instance-shutdown ${NEVER}`,
      `instance-shutdown ${UP}`,
    ]);
    expect(existsSync(`/proc/${before.up}`)).toBe(false);
    expect(existsSync(`/proc/${before.never}`)).toBe(false);

    t = await startTestEngine(dataDir, { network: bridge });
    // Running at the host's shutdown, autostart unset: running again, a new init.
    const up = await t.engine.instances.get('default', UP);
    expect(up.status).toBe('Running');
    expect(up.config['volatile.last_state.power']).toBe('RUNNING');
    expect(await pidOf(UP)).not.toBe(before.up);
    expect(
      (await t.engine.instances.exec('default', UP, { command: ['echo', 'back'] })).stdout,
    ).toBe('back\n');
    // boot.autostart=false: stays down although it ran, and its record says so.
    const never = await t.engine.instances.get('default', NEVER);
    expect(never.status).toBe('Stopped');
    expect(never.config['volatile.last_state.power']).toBe('STOPPED');
    // Stopped before: stays stopped.
    const down = await t.engine.instances.get('default', DOWN);
    expect(down.status).toBe('Stopped');
    expect(down.config['volatile.last_state.power']).toBe('STOPPED');
  }, 180_000);
});
