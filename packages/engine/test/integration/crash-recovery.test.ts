// kill -9 of the engine in the middle of each long operation (create of a
// container and of a VM, snapshot, backup export, image build, copy). crash-child.ts runs the engine and kills
// itself once the operation is seen half-way on disk; a new engine on the same
// data dir must then find running containers still running (same pids, state
// as in the database), the operation failed as interrupted, nothing half-made
// left, and the pool folder, images folder, backups folder and database agreeing.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/index.ts';
import {
  CRASH_RUNNING,
  CRASH_SOURCE,
  CRASH_VM,
  type CrashScenario,
  type ProcessEntry,
} from './crash-child.ts';
import { removeHostState, startTestEngine, testBridgeName, waitFor } from './helpers.ts';

const bridge = testBridgeName();
const POOL = 'default';
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-crash-'));
});

afterAll(async () => {
  if (!dataDir) return;
  const t = await startTestEngine(dataDir, { network: bridge });
  await removeHostState(t.engine, bridge);
  await t.engine.close();
  await rm(dataDir, { recursive: true, force: true });
}, 120_000);

interface Killed {
  operation: string;
  pids: Record<string, number>;
  helpers: ProcessEntry[];
}

/** Runs the engine child for one scenario until it has SIGKILLed itself mid-operation. */
async function killDuring(scenario: CrashScenario): Promise<Killed> {
  const script = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir, bridge, scenario], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  let line: string | undefined;
  createInterface({ input: child.stdout }).on('line', (l) => (line ??= l));
  const how = await exited;
  expect(how, `the engine child should have killed itself mid-${scenario}`).toBe('SIGKILL');
  expect(line).toBeDefined();
  return JSON.parse(line as string) as Killed;
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** The dead engine's command sidecar and the copies it ran (cp, tar, gzip) end with it. */
async function helpersGone(helpers: ProcessEntry[]): Promise<void> {
  // dnsmasq and LXC's monitors belong to the network and the containers, which outlive the engine.
  const own = helpers.filter((h) => !/^(dnsmasq|lxc)/.test(h.comm));
  expect(own.some((h) => h.comm === 'node')).toBe(true); // the sidecar was there
  await waitFor(
    'the killed engine helpers to exit',
    async () => own.filter((h) => startTimeOf(h.pid) === h.start).map((h) => `${h.pid} ${h.comm}`),
    (left) => left.length === 0,
    30_000,
  );
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The pool, images and backups folders agree with the database, with nothing half-made. */
async function expectConsistent(engine: Engine): Promise<void> {
  const instances = await engine.db.instances.list();
  const volumes = await engine.db.storage.listVolumes(POOL);
  const key = (project: string, name: string) => `${project}/${name}`;

  // Every instance row has its volume row and folder, and vice versa.
  const instanceVolumes = volumes.filter(
    (v) => (v.type === 'container' || v.type === 'virtual-machine') && !v.name.includes('/'),
  );
  expect(instanceVolumes.map((v) => key(v.project, v.name)).sort()).toEqual(
    instances.map((i) => key(i.project, i.name)).sort(),
  );
  // Each type's pool folder holds exactly its instances' folders.
  const folderOf = async (project: string, name: string, type: string) =>
    (await engine.storage.instancePaths(POOL, project, name, type)).dir;
  for (const type of ['container', 'virtual-machine']) {
    const dir = path.dirname(await folderOf('default', CRASH_SOURCE, type));
    const expected = await Promise.all(
      instances
        .filter((i) => i.type === type)
        .map(async (i) => path.basename(await folderOf(i.project, i.name, i.type))),
    );
    expect(entries(dir).sort(), type).toEqual(expected.sort());
  }
  const containersDir = path.dirname(await folderOf('default', CRASH_SOURCE, 'container'));

  // Every instance's state agrees with the database, and none is still "being created".
  for (const record of instances) {
    const instance = await engine.instances.get(record.project, record.name);
    expect(record.config['volatile.last_state.power'], record.name).toBe(
      instance.status.toUpperCase(),
    );
  }

  // Snapshots: rows, volume rows and folders are the same set.
  const snapshotsDir = path.join(path.dirname(containersDir), 'containers-snapshots');
  const snapshotRows: string[] = [];
  for (const record of instances) {
    for (const s of await engine.db.snapshots.list(record.id))
      snapshotRows.push(key(record.project, `${record.name}/${s.name}`));
  }
  const snapshotVolumes = volumes
    .filter((v) => v.type === 'container' && v.name.includes('/'))
    .map((v) => key(v.project, v.name));
  expect(snapshotVolumes.sort()).toEqual([...snapshotRows].sort());
  const snapshotFolders = entries(snapshotsDir).flatMap((d) =>
    entries(path.join(snapshotsDir, d)).map((s) => `${d}/${s}`),
  );
  expect(snapshotFolders.filter((f) => path.basename(f).startsWith('.'))).toEqual([]);
  expect(snapshotFolders).toHaveLength(snapshotRows.length);

  // Images: every row has its tarball, every tarball a row, no work folder left.
  const imagesDir = path.join(engine.dataDir, 'images');
  const images = await engine.db.images.list('default');
  for (const image of images)
    expect(existsSync(engine.images.files.tarball(image.fingerprint)), image.fingerprint).toBe(
      true,
    );
  const onDisk = entries(imagesDir);
  expect(onDisk.filter((e) => e.startsWith('.'))).toEqual([]);
  expect(onDisk.filter((e) => /^[0-9a-f]{64}$/.test(e)).sort()).toEqual(
    [...new Set(images.map((i) => i.fingerprint))].sort(),
  );

  // Backups: no partial file, and every tarball has its record.
  const backupsDir = path.join(engine.dataDir, 'backups');
  for (const top of entries(backupsDir)) {
    expect(top.startsWith('.partial-'), top).toBe(false);
    const inner = entries(path.join(backupsDir, top));
    expect(inner.filter((f) => f.startsWith('.partial-'))).toEqual([]);
    for (const file of inner.filter((f) => !f.startsWith('.')))
      expect(inner, `${top}/${file}`).toContain(`.${file}.json`);
  }
}

async function afterCrash(killed: Killed, check: (engine: Engine) => Promise<void>) {
  await helpersGone(killed.helpers);
  const t = await startTestEngine(dataDir, { network: bridge });
  try {
    expect(await t.engine.operations.get(killed.operation)).toMatchObject({
      status: 'Failure',
      err: expect.stringMatching(/Interrupted/),
    });
    // The containers ran through the crash: same processes, state as recorded.
    for (const name of [CRASH_RUNNING, CRASH_SOURCE]) {
      expect((await t.engine.instances.get('default', name)).status).toBe('Running');
      expect((await t.engine.instances.state('default', name)).pid).toBe(killed.pids[name]);
    }
    await expectConsistent(t.engine);
    await check(t.engine);
  } finally {
    await t.engine.close();
  }
}

describe.sequential('kill -9 of the engine mid-operation', () => {
  it('during a create (volume copy under way): the half-made instance is removed', async () => {
    const killed = await killDuring('create');
    await afterCrash(killed, async (engine) => {
      expect(await engine.instances.names('default')).not.toContain('t-crash-new');
      expect(
        await engine.db.storage.getVolume(POOL, 'default', 'container', 't-crash-new'),
      ).toBeNull();
      // The name is free again: the same create now succeeds.
      await engine.instances.createAndWait('default', {
        name: 't-crash-new',
        source: { type: 'image', alias: 'busybox' },
      });
      await engine.instances.delete('default', 't-crash-new');
    });
  }, 300_000);

  it('during a VM create (volume copy under way): the half-made VM is removed', async () => {
    const killed = await killDuring('vm-create');
    await afterCrash(killed, async (engine) => {
      expect(await engine.instances.names('default')).not.toContain(CRASH_VM);
      expect(
        await engine.db.storage.getVolume(POOL, 'default', 'virtual-machine', CRASH_VM),
      ).toBeNull();
      // Nothing of it in QEMU's runtime folder either.
      expect(
        entries(path.join(engine.dataDir, 'qemu')).filter((e) => e.includes(CRASH_VM)),
      ).toEqual([]);
      // The name is free again: the same create now succeeds (and the VM goes again).
      await engine.instances.createAndWait('default', {
        name: CRASH_VM,
        type: 'virtual-machine',
        source: { type: 'image', alias: 't-crash-vm-image' },
      });
      await engine.instances.delete('default', CRASH_VM);
      await engine.images.delete(
        'default',
        await engine.images.resolveAlias('default', 't-crash-vm-image'),
      );
    });
  }, 600_000);

  it('during a snapshot: no snapshot, no snapshot folder', async () => {
    const killed = await killDuring('snapshot');
    await afterCrash(killed, async (engine) => {
      expect(await engine.snapshots.list('default', CRASH_SOURCE)).toEqual([]);
      const snap = await engine.storage.snapshotPaths(
        POOL,
        'default',
        CRASH_SOURCE,
        'container',
        'killed',
      );
      expect(existsSync(snap.dir)).toBe(false);
    });
  }, 300_000);

  it('during a backup export: no backup, no partial tarball', async () => {
    const killed = await killDuring('backup');
    await afterCrash(killed, async (engine) => {
      expect(await engine.backups.list('default', CRASH_SOURCE)).toEqual([]);
    });
  }, 300_000);

  it('during an image build: no image, no work folder', async () => {
    const killed = await killDuring('image');
    await afterCrash(killed, async (engine) => {
      expect((await engine.images.listAliases('default')).map((a) => a.name)).not.toContain(
        't-crash-built',
      );
    });
  }, 300_000);

  it('during a copy: the half-made copy is removed, the source untouched', async () => {
    const killed = await killDuring('copy');
    await afterCrash(killed, async (engine) => {
      expect(await engine.instances.names('default')).not.toContain('t-crash-copy');
      const size = await engine.instances.exec('default', CRASH_SOURCE, {
        command: ['stat', '-c', '%s', '/big'],
      });
      expect(size.stdout.trim()).toBe(String(200 * 1024 * 1024));
    });
  }, 300_000);

  it('removes a snapshot volume whose snapshot row the killed engine never wrote', async () => {
    // The one window no on-disk sign marks: a snapshot's volume is renamed into place,
    // and the engine dies before the snapshot's row is written. Made here as it would be.
    let t = await startTestEngine(dataDir, { network: bridge });
    const snap = await t.engine.storage.snapshotInstanceVolume(
      POOL,
      'default',
      CRASH_RUNNING,
      'container',
      'unrecorded',
    );
    expect(existsSync(snap.dir)).toBe(true);
    await t.engine.close();

    t = await startTestEngine(dataDir, { network: bridge });
    try {
      expect(existsSync(snap.dir)).toBe(false);
      expect(
        await t.engine.db.storage.getVolume(
          POOL,
          'default',
          'container',
          `${CRASH_RUNNING}/unrecorded`,
        ),
      ).toBeNull();
      expect((await t.engine.instances.get('default', CRASH_RUNNING)).status).toBe('Running');
      await expectConsistent(t.engine);
    } finally {
      await t.engine.close();
    }
  }, 120_000);

  it('leaves the image folder and pool with no work folders on disk at all', () => {
    // After all five crashes and restarts: nothing hidden anywhere in the data dir's pool.
    const pool = path.join(dataDir, 'storage', POOL);
    if (!existsSync(pool)) return;
    const hidden: string[] = [];
    for (const sub of entries(pool)) {
      const dir = path.join(pool, sub);
      if (!statSync(dir).isDirectory()) continue;
      for (const e of entries(dir)) if (e.startsWith('.')) hidden.push(`${sub}/${e}`);
    }
    expect(hidden).toEqual([]);
  });
});
