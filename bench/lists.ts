// Section lists: listing a big project (1,000 stopped instances by default,
// snapshots on some), through the requests `lxc list` sends and `lxc list`
// itself. What LXD 5.0.2's `lxc list` asks for (checked with --debug):
//
//   lxc list                 (default columns ns46tS: state and snapshots)
//                            GET /1.0/instances?filter=&recursion=2
//   lxc list -c ns           GET /1.0/instances?filter=&recursion=1
//   lxc list name=X          GET /1.0/instances?filter=name+eq+X&recursion=2
//
// LXD 5.0.2 has no `fields=` (selective recursion came later); the nearest
// it has is recursion=1 (no state) and a server-side `filter=`, so those are
// what is measured.
import { describeFleet, ensureFleet } from './fleet.ts';
import { Cells } from './section-measure.ts';
import type { Section, SectionContext } from './section-types.ts';

export const listsSection: Section = {
  id: 'lists',
  title: (c) =>
    `Listing ${describeFleet(c.listCount, c.listSnapshots, Math.min(c.listSnapshotted, c.listCount))}`,
  params: (c) => ({
    instances: c.listCount,
    snapshotsEach: c.listSnapshots,
    snapshotted: Math.min(c.listSnapshotted, c.listCount),
    iterations: c.listIterations,
  }),
  rows: (c) => [
    { id: 'api-0', scenario: `list ${c.listCount}, recursion=0`, path: 'API' },
    { id: 'api-1', scenario: `list ${c.listCount}, recursion=1`, path: 'API' },
    {
      id: 'api-ns',
      scenario: `list ${c.listCount}, recursion=1&filter= (\`lxc list -c ns\`)`,
      path: 'API',
    },
    { id: 'api-2', scenario: `list ${c.listCount}, recursion=2 (\`lxc list\`)`, path: 'API' },
    {
      id: 'api-2-one',
      scenario: `recursion=2&filter=name eq ONE (\`lxc list name=ONE\`)`,
      path: 'API',
    },
    { id: 'cli', scenario: `list ${c.listCount}, default columns`, path: '`lxc list`' },
    { id: 'cli-ns', scenario: `list ${c.listCount}, names and states`, path: '`lxc list -c ns`' },
    {
      id: 'create',
      scenario: `create ${c.listCount} stopped (set-up, ${c.createConcurrency} at a time)`,
      path: 'API, seconds',
    },
    { id: 'snapshot', scenario: 'take the snapshots (set-up)', path: 'API, seconds' },
  ],
  how: (c) => [
    `${c.listIterations} listings per row; every listing is checked to hold ${c.listCount} instances (1 for the filtered one). ` +
      "CLI rows are `lxc list --format csv`, so they include the client's own start-up (≈ 20–30 ms) and its rendering. " +
      "The instances were created through each daemon's own API from the busybox image and never started; " +
      'the set-up rows are wall-clock seconds of that creation, not medians.',
  ],
  async run(ctx: SectionContext) {
    const cells = new Cells(ctx);
    const { listCount, listIterations: n } = ctx.counts;
    try {
      const fleet = await ensureFleet(ctx);
      cells.value('create', fleet.createSeconds, 's');
      cells.value('snapshot', fleet.snapshotSeconds, 's');
      const one = fleet.names[Math.min(7, fleet.names.length - 1)]!;
      const list = (query: Record<string, string>, want: number) => async () => {
        const res = await ctx.project.client.request<unknown[]>(
          'GET',
          '/1.0/instances',
          undefined,
          query,
        );
        if (res.metadata.length !== want)
          throw new Error(`listed ${res.metadata.length} instances, expected ${want}`);
      };
      const cli = (args: string[]) => async () => {
        const { stdout } = await ctx.project.cli.run(['list'], [...args, '--format', 'csv'], {
          needStdout: true,
        });
        const lines = stdout.split('\n').filter((l) => l.trim() !== '').length;
        if (lines !== listCount)
          throw new Error(`lxc list printed ${lines} rows, expected ${listCount}`);
      };
      const rows: [string, () => Promise<void>][] = [
        ['api-0', list({ recursion: '0' }, listCount)],
        ['api-1', list({ recursion: '1' }, listCount)],
        ['api-ns', list({ filter: '', recursion: '1' }, listCount)],
        ['api-2', list({ filter: '', recursion: '2' }, listCount)],
        ['api-2-one', list({ filter: `name eq ${one}`, recursion: '2' }, 1)],
        ['cli', cli([])],
        ['cli-ns', cli(['-c', 'ns'])],
      ];
      for (const [row, fn] of rows) {
        ctx.log(`${ctx.label}: ${row} ×${n}`);
        // One untimed listing first: the daemon's caches warm, as for an operator's second look.
        await fn().catch(() => undefined);
        await cells.sample(row, n, fn);
      }
    } catch (error) {
      cells.failRest(
        ['api-0', 'api-1', 'api-ns', 'api-2', 'api-2-one', 'cli', 'cli-ns', 'create', 'snapshot'],
        error,
      );
    }
    return cells.figures;
  },
};
