// The engine process is killed (SIGKILL) while a container runs and an
// operation is in flight; a new engine on the same data dir re-attaches.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeHostState, startTestEngine, testBridgeName, type TestEngine } from './helpers.ts';

const bridge = testBridgeName();
let dataDir: string;
let t: TestEngine | undefined;

afterAll(async () => {
  if (t) {
    await removeHostState(t.engine, bridge);
    await t.engine.close();
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('recovery after the engine is killed', () => {
  it('finds the container still running, re-attached, and the interrupted operation failed', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-recovery-'));
    const script = fileURLToPath(new URL('./engine-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir, bridge], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`engine child exited early (${code})`)));
    });
    const { containerPid, operation } = JSON.parse(line) as {
      containerPid: number;
      operation: string;
    };
    expect(containerPid).toBeGreaterThan(0);

    child.kill('SIGKILL');
    await exited;

    t = await startTestEngine(dataDir, { network: bridge });
    const instance = await t.engine.instances.get('default', 'killed-under');
    expect(instance.status).toBe('Running');
    expect(instance.config['volatile.last_state.power']).toBe('RUNNING');
    expect((await t.engine.instances.state('default', 'killed-under')).pid).toBe(containerPid);
    expect(
      (
        await t.engine.instances.exec('default', 'killed-under', {
          command: ['echo', 'still here'],
        })
      ).stdout,
    ).toBe('still here\n');
    expect(await t.engine.operations.get(operation)).toMatchObject({
      status: 'Failure',
      err: expect.stringMatching(/Interrupted/),
    });
    // And it can still be stopped and started by the new engine.
    await t.engine.instances.changeStateAndWait('default', 'killed-under', {
      action: 'stop',
      force: true,
    });
    await t.engine.instances.changeStateAndWait('default', 'killed-under', { action: 'start' });
    expect((await t.engine.instances.get('default', 'killed-under')).status).toBe('Running');
  }, 90_000);

  it('removes an instance whose creation the killed engine left half-made', async () => {
    // What a create leaves when its engine dies mid-operation: the row, marked as still
    // being created, and a volume part-filled.
    const engine = t!.engine;
    const project = await engine.db.projects.get('default');
    const profile = await engine.db.profiles.get('default', 'default');
    await engine.db.instances.create(project!.id, {
      name: 'half-made',
      type: 'container',
      architecture: 'x86_64',
      ephemeral: false,
      description: '',
      config: { 'volatile.last_state.power': 'CREATING' },
      devices: {},
      profileIds: [profile!.id],
    });
    await engine.storage.createInstanceVolume('default', 'default', 'half-made', 'container', {});
    const volume = (await engine.instances.resolve('default', 'half-made')).view.paths.dir;
    expect(existsSync(volume)).toBe(true);
    await engine.close();

    t = await startTestEngine(dataDir, { network: bridge });
    expect((await t.engine.instances.list('default')).map((i) => i.name)).toEqual(['killed-under']);
    expect(existsSync(volume)).toBe(false);
    expect(
      await t.engine.db.storage.getVolume('default', 'default', 'container', 'half-made'),
    ).toBeNull();
  }, 90_000);
});
