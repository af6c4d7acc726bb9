// Section density: start N busybox containers (50 by default) through the
// daemon's API, all running at once, and read what they cost the host:
// MemAvailable before and after, divided by N; the daemon's own RSS with
// them running. Then stop and delete them.
import { IMAGE_ALIAS } from './bench-image.ts';
import { dropFleet } from './fleet.ts';
import { readRss } from './memory.ts';
import { containerMemory, MB, memAvailableBytes } from './proc-memory.ts';
import { Cells, createStopped, removeAll, startAll } from './section-measure.ts';
import type { Section, SectionContext } from './section-types.ts';

/** Lets the new containers' init and the daemon settle before reading. */
const SETTLE_MS = 3_000;

async function memAvailableMedian(): Promise<number> {
  const reads: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 300));
    reads.push(await memAvailableBytes());
  }
  return reads.sort((a, b) => a - b)[2]!;
}

/** Each container's cgroup charge and monitor RSS, read from the kernel; cells are the medians. */
async function perContainer(ctx: SectionContext, cells: Cells, names: string[]): Promise<void> {
  const cgroup: number[] = [];
  const monitor: number[] = [];
  for (const name of names) {
    const state = await ctx.project.client.request<{ pid: number }>(
      'GET',
      `/1.0/instances/${name}/state`,
    );
    if (!(state.metadata.pid > 0)) throw new Error(`${name}: state reports no init pid`);
    const m = await containerMemory(state.metadata.pid);
    cgroup.push(m.cgroup);
    monitor.push(m.monitor);
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  cells.value('cgroup', median(cgroup) / MB, 'MB');
  cells.value('monitor', median(monitor) / MB, 'MB');
}

export const densitySection: Section = {
  id: 'density',
  title: (c) => `Density: ${c.densityCount} busybox containers running at once`,
  params: (c) => ({ containers: c.densityCount }),
  rows: (c) => [
    {
      id: 'running',
      scenario: `containers running at once (of ${c.densityCount} started)`,
      path: 'API',
    },
    {
      id: 'per-container',
      scenario: 'host memory per running container',
      path: 'MemAvailable drop / N',
    },
    { id: 'cgroup', scenario: 'memory charged per container (cgroup)', path: 'median of N' },
    { id: 'monitor', scenario: 'its `lxc monitor` process (PSS)', path: 'median of N' },
    { id: 'host', scenario: `host memory for all ${c.densityCount}`, path: 'MemAvailable drop' },
    { id: 'rss', scenario: `daemon RSS with ${c.densityCount} running`, path: 'daemon process' },
    {
      id: 'rss-total',
      scenario: `daemon RSS with ${c.densityCount} running`,
      path: 'with helpers',
    },
    {
      id: 'launch',
      scenario: `create + start all ${c.densityCount} (${c.createConcurrency} at a time)`,
      path: 'API, seconds',
    },
    {
      id: 'teardown',
      scenario: `stop --force + delete all ${c.densityCount}`,
      path: 'API, seconds',
    },
  ],
  how: (c) => [
    `MemAvailable (/proc/meminfo) is the median of 5 readings 0.3 s apart, before creating the ${c.densityCount} containers and ${SETTLE_MS / 1000} s after the last one started; ` +
      '"running" is how many GET /1.0/instances?recursion=1 then reports Running; ' +
      "the cgroup row is the memory charged to the cgroup of each container's init (pid from GET /1.0/instances/NAME/state; " +
      "cgroup v1 memory.usage_in_bytes, page cache of its files included), the monitor row the PSS (shared pages divided among their sharers) of its parent process, LXC's per-container monitor. " +
      'The machine is shared: other work moves MemAvailable by tens of MB, so the per-container figure is rough at small N.',
  ],
  async run(ctx: SectionContext) {
    const cells = new Cells(ctx);
    const n = ctx.counts.densityCount;
    const names = Array.from({ length: n }, (_, i) => `${ctx.namePrefix}-d${i}`);
    try {
      // The listings' stopped instances go first, so only these containers are in the project.
      await dropFleet(ctx);
      await ctx.dropProbe();
      const before = await memAvailableMedian();
      ctx.log(`${ctx.label}: starting ${n} containers`);
      let t = performance.now();
      await createStopped(ctx, names, IMAGE_ALIAS);
      await startAll(ctx, names);
      cells.value('launch', (performance.now() - t) / 1000, 's');
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const after = await memAvailableMedian();
      const listed = await ctx.project.client.request<{ name: string; status: string }[]>(
        'GET',
        '/1.0/instances',
        undefined,
        { recursion: '1' },
      );
      const running = listed.metadata.filter(
        (i) => names.includes(i.name) && i.status === 'Running',
      ).length;
      cells.value('running', running, `of ${n}`);
      cells.value('host', (before - after) / MB, 'MB');
      cells.value('per-container', (before - after) / MB / n, 'MB');
      await perContainer(ctx, cells, names).catch((error: unknown) =>
        cells.failRest(['cgroup', 'monitor'], error),
      );
      await readRss(ctx)
        .then((rss) => {
          cells.value('rss', rss.daemon / MB, 'MB');
          cells.value('rss-total', rss.total / MB, 'MB');
        })
        .catch((error: unknown) => cells.failRest(['rss', 'rss-total'], error));
      ctx.log(`${ctx.label}: stopping and deleting the ${n} containers`);
      t = performance.now();
      await removeAll(ctx, names);
      cells.value('teardown', (performance.now() - t) / 1000, 's');
    } catch (error) {
      cells.failRest(
        [
          'running',
          'per-container',
          'cgroup',
          'monitor',
          'host',
          'rss',
          'rss-total',
          'launch',
          'teardown',
        ],
        error,
      );
    }
    return cells.figures;
  },
};
