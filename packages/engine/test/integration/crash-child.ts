// A Berth engine in its own process for crash-recovery.test.ts: it prepares
// what a scenario needs, starts one long operation, and kills itself with
// SIGKILL the moment that operation is seen half-way (its work folder or
// partial file exists on disk and the operation has not ended). Killing from
// inside is the one way to be sure the kill lands mid-operation: nothing of
// the engine runs between the check and the signal. Before dying it prints
// one JSON line: the operation's id and the pids of its helper processes.
import { readdirSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { createEngine, type Engine } from '../../src/index.ts';
import type { Operation } from '../../src/schemas/index.ts';
import { TEST_CACHE_DIR } from './helpers.ts';

export const CRASH_SOURCE = 't-crash-src';
export const CRASH_RUNNING = 't-crash-up';
export const CRASH_SCENARIOS = [
  'create',
  'vm-create',
  'snapshot',
  'backup',
  'image',
  'copy',
] as const;
/** The VM the vm-create scenario is killed in the middle of making. */
export const CRASH_VM = 't-crash-vm';
export type CrashScenario = (typeof CRASH_SCENARIOS)[number];

/** Descendant processes of `pid` with their start times (to tell a reused pid apart). */
export interface ProcessEntry {
  pid: number;
  comm: string;
  start: string;
}

export function descendants(pid: number): ProcessEntry[] {
  const parents = new Map<number, number[]>();
  const starts = new Map<number, { comm: string; start: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The fields after the command (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    starts.set(Number(entry), {
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      start: fields[19] ?? '',
    });
  }
  const out: ProcessEntry[] = [];
  const stack = [...(parents.get(pid) ?? [])];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    out.push({ pid: p, comm: starts.get(p)?.comm ?? '', start: starts.get(p)?.start ?? '' });
    stack.push(...(parents.get(p) ?? []));
  }
  return out;
}

function hiddenIn(dir: string, prefix: RegExp): boolean {
  try {
    return readdirSync(dir).some((e) => prefix.test(e));
  } catch {
    return false;
  }
}

function hiddenBelow(dir: string, prefix: RegExp): boolean {
  try {
    return readdirSync(dir).some((e) => prefix.test(e) || hiddenIn(path.join(dir, e), prefix));
  } catch {
    return false;
  }
}

/** Writes `mib` MiB of random bytes into a running container (a slow source: copies take seconds). */
async function fill(engine: Engine, name: string, mib: number): Promise<void> {
  const result = await engine.instances.exec('default', name, {
    command: ['dd', 'if=/dev/urandom', 'of=/big', 'bs=1M', `count=${mib}`],
  });
  if (result.exitCode !== 0) throw new Error(`filling ${name}: ${result.stderr}`);
}

/** Builds an image as `alias` and adds 200 MiB that do not compress to its rootfs: copies of it take seconds. */
async function slowImage(
  engine: Engine,
  alias: string,
  build: (alias: string) => Promise<Operation>,
): Promise<void> {
  const built = await engine.operations.wait((await build(alias)).id);
  if (built.status !== 'Success') throw new Error(built.err);
  const rootfs = await engine.images.rootfsPath(await engine.images.resolveAlias('default', alias));
  const { runCommand } = await import('../../src/host/run-command.ts');
  await runCommand(
    'dd',
    ['if=/dev/urandom', `of=${path.join(rootfs, 'big')}`, 'bs=1M', 'count=200'],
    { timeoutMs: 120_000 },
  );
}

async function main(): Promise<void> {
  const [dataDir, bridge, scenario] = process.argv.slice(2) as [string, string, CrashScenario];
  if (!dataDir || !bridge || !CRASH_SCENARIOS.includes(scenario))
    throw new Error('usage: crash-child.ts DATA_DIR BRIDGE SCENARIO');
  const engine = await createEngine({
    dataDir,
    defaultNetwork: bridge,
    scheduler: false,
    cacheDir: TEST_CACHE_DIR,
  });
  const ended = new Set<string>();
  engine.events.subscribe({ types: ['operation'] }, (event) => {
    const op = event.metadata as Operation;
    if (op.status === 'Success' || op.status === 'Failure' || op.status === 'Cancelled')
      ended.add(op.id);
  });

  // What every scenario stands on: an image, a running container that must
  // survive every crash, and a slow source (200 MiB that does not compress).
  if (!(await engine.images.listAliases('default')).some((a) => a.name === 'busybox')) {
    const build = await engine.operations.wait(
      (await engine.images.buildBusybox('default', { alias: 'busybox' })).id,
    );
    if (build.status !== 'Success') throw new Error(build.err);
  }
  const names = await engine.instances.names('default');
  for (const name of [CRASH_RUNNING, CRASH_SOURCE]) {
    if (names.includes(name)) continue;
    await engine.instances.createAndWait('default', {
      name,
      source: { type: 'image', alias: 'busybox' },
      start: true,
    });
    if (name === CRASH_SOURCE) await fill(engine, name, 200);
  }

  const pids: Record<string, number | undefined> = {};
  for (const name of [CRASH_RUNNING, CRASH_SOURCE])
    pids[name] = (await engine.instances.state('default', name)).pid ?? undefined;
  const pool = 'default';
  const containers = path.dirname(
    (await engine.storage.instancePaths(pool, 'default', CRASH_SOURCE, 'container')).dir,
  );
  let started: Operation;
  let halfWay: () => boolean;
  switch (scenario) {
    case 'create': {
      // An image with a big rootfs: the volume copy (and its preparation) take seconds.
      await slowImage(engine, 't-crash-big', (alias) =>
        engine.images.buildBusybox('default', { alias }),
      );
      started = (
        await engine.instances.create('default', {
          name: 't-crash-new',
          source: { type: 'image', alias: 't-crash-big' },
        })
      ).operation;
      // The volume's own copy has begun (not only the image's preparation).
      halfWay = () => hiddenIn(containers, /^\.create-.*t-crash-new-/);
      break;
    }
    case 'vm-create': {
      // The built-in VM image, made slow to copy the same way.
      await slowImage(engine, 't-crash-vm-image', (alias) =>
        engine.images.buildBusyboxVm('default', { alias }),
      );
      started = (
        await engine.instances.create('default', {
          name: CRASH_VM,
          type: 'virtual-machine',
          source: { type: 'image', alias: 't-crash-vm-image' },
        })
      ).operation;
      const vms = path.dirname(
        (await engine.storage.instancePaths(pool, 'default', CRASH_VM, 'virtual-machine')).dir,
      );
      halfWay = () => hiddenIn(vms, new RegExp(`^\\.create-.*${CRASH_VM}-`));
      break;
    }
    case 'snapshot': {
      started = await engine.snapshots.create('default', CRASH_SOURCE, { name: 'killed' });
      const snaps = path.dirname(
        (await engine.storage.snapshotPaths(pool, 'default', CRASH_SOURCE, 'container', 'x')).dir,
      );
      halfWay = () => hiddenIn(snaps, /^\.snapshot-/);
      break;
    }
    case 'backup': {
      started = await engine.backups.export('default', CRASH_SOURCE, { name: 'killed' });
      // The tarball is being written (after the pool-side work copy).
      halfWay = () => hiddenBelow(path.join(dataDir, 'backups'), /^\.partial-/);
      break;
    }
    case 'image': {
      started = await engine.images.buildBusybox('default', { alias: 't-crash-built' });
      halfWay = () => hiddenIn(path.join(dataDir, 'images'), /^\.tmp-/);
      break;
    }
    case 'copy': {
      started = (
        await engine.instances.create('default', {
          name: 't-crash-copy',
          source: { type: 'copy', source: CRASH_SOURCE },
        })
      ).operation;
      halfWay = () => hiddenIn(containers, /^\.create-.*t-crash-copy-/);
      break;
    }
  }
  const id = started.id;
  const timer = setInterval(() => {
    if (ended.has(id)) {
      clearInterval(timer);
      writeSync(2, `crash-child: operation ${id} ended before it was seen half-way\n`);
      process.exit(3);
    }
    if (!halfWay()) return;
    writeSync(1, `${JSON.stringify({ operation: id, pids, helpers: descendants(process.pid) })}\n`);
    process.kill(process.pid, 'SIGKILL');
  }, 2);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().catch((error: unknown) => {
    writeSync(2, `crash-child: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(2);
  });
}
