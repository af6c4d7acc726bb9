// Warnings against a real database and the real drivers: what the probe
// found (VMs under TCG here) is a warning from the first start, counted
// again at the next, and an instance that fails to autostart (a VM pinned to
// a CPU the host lacks) leaves one naming it; users acknowledge and delete
// them, and the condition's return makes a resolved one new again.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WarningType } from '../../src/warnings/warnings.ts';
import { errorOf, startTestEngine, type TestEngine } from './helpers.ts';

let dataDir: string;
let t: TestEngine;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-warnings-'));
  t = await startTestEngine(dataDir);
});

afterAll(async () => {
  await t?.cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

describe('warnings', () => {
  it("records what the drivers' probe found, once per condition, counted at each start", async () => {
    const vm = t.engine.drivers().find((d) => d.type === 'virtual-machine')!;
    const tcg = (await t.engine.warnings.list()).filter((w) => w.type === WarningType.vmWithoutKvm);
    if (vm.available && vm.details?.accel === 'tcg') {
      expect(tcg).toMatchObject([{ severity: 'low', status: 'new', count: 1, project: '' }]);
      expect(tcg[0]!.last_message).toMatch(/^Virtual machines run under TCG/);
    } else {
      expect(tcg).toEqual([]);
    }
    await t.engine.close();
    t = await startTestEngine(dataDir);
    const again = (await t.engine.warnings.list()).filter(
      (w) => w.type === WarningType.vmWithoutKvm,
    );
    expect(again.map((w) => w.count)).toEqual(tcg.map(() => 2));
  });

  it('names an instance that failed to autostart, resolved once it starts', async () => {
    await t.engine.instances.createAndWait('default', {
      name: 'pinned',
      type: 'virtual-machine',
      source: { type: 'none' },
      config: { 'boot.autostart': 'true', 'limits.cpu': '0,4095', 'limits.memory': '64MiB' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '16MiB' } },
    });
    await t.engine.close();
    t = await startTestEngine(dataDir);
    const [failed] = (await t.engine.warnings.list('default')).filter(
      (w) => w.type === WarningType.instanceAutostartFailure,
    );
    expect(failed).toMatchObject({
      project: 'default',
      entity_url: '/1.0/instances/pinned',
      status: 'new',
      severity: 'low',
    });
    expect(failed!.last_message).toMatch(/Failed to start instance "pinned" at boot: .*4095/);

    // Acknowledged, it stays (lxc warning list hides it); deleted, it is gone.
    const acked = await t.engine.warnings.update(failed!.uuid, { status: 'acknowledged' });
    expect(acked.status).toBe('acknowledged');
    expect(t.events).toContainEqual(
      expect.objectContaining({
        metadata: expect.objectContaining({
          action: 'warning-acknowledged',
          source: `/1.0/warnings/${failed!.uuid}`,
        }),
      }),
    );
    expect(
      await errorOf(t.engine.warnings.update(failed!.uuid, { status: 'resolved' as never })),
    ).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'status' });

    // Fixed, the next start resolves it.
    await t.engine.instances.update('default', 'pinned', {
      config: { 'boot.autostart': 'true', 'limits.cpu': '0-0', 'limits.memory': '64MiB' },
      devices: { root: { type: 'disk', path: '/', pool: 'default', size: '16MiB' } },
    });
    await t.engine.close();
    t = await startTestEngine(dataDir);
    expect((await t.engine.warnings.get(failed!.uuid)).status).toBe('resolved');
    expect((await t.engine.instances.get('default', 'pinned')).status).toBe('Running');
    await t.engine.instances.delete('default', 'pinned', { force: true });

    await t.engine.warnings.delete(failed!.uuid);
    expect(await errorOf(t.engine.warnings.get(failed!.uuid))).toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
