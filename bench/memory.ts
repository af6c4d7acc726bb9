// Section memory: the daemon's resident memory (VmRSS) with nothing in the
// bench's project, then with the listing fleet (1,000 stopped instances).
// LXD is one process (`lxd`); Berth is its server process plus the command
// sidecar it forks (both counted in "with helpers"). dnsmasq and the
// containers' own processes are counted for neither.
import { ensureFleet } from './fleet.ts';
import { MB, rssBytes } from './proc-memory.ts';
import { Cells } from './section-measure.ts';
import type { Section, SectionContext } from './section-types.ts';

/** The daemon's RSS and its helpers', a median of three readings a moment apart. */
export async function readRss(ctx: SectionContext): Promise<{ daemon: number; total: number }> {
  const daemon: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 500));
    const main = await rssBytes(await ctx.daemonPid());
    let helpers = 0;
    for (const pid of await ctx.helperPids()) helpers += await rssBytes(pid).catch(() => 0);
    daemon.push(main);
    total.push(main + helpers);
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
  return { daemon: mid(daemon), total: mid(total) };
}

export const memorySection: Section = {
  id: 'memory',
  title: () => 'Daemon memory (VmRSS)',
  params: (c) => ({ instances: c.listCount }),
  rows: (c) => [
    { id: 'idle', scenario: 'idle (empty project)', path: 'daemon process' },
    { id: 'idle-total', scenario: 'idle (empty project)', path: 'with helpers' },
    { id: 'fleet', scenario: `with ${c.listCount} instances`, path: 'daemon process' },
    { id: 'fleet-total', scenario: `with ${c.listCount} instances`, path: 'with helpers' },
    { id: 'per-instance', scenario: 'growth per instance', path: 'daemon process' },
  ],
  how: () => [
    'VmRSS from /proc/PID/status, median of 3 readings 0.5 s apart: LXD = the `lxd` daemon process (no helper process); ' +
      'Berth = the server process (node running apps/web/server.ts), "with helpers" adding its command sidecar. ' +
      '"Idle" is after the exec, file and concurrency sections ran and their container was deleted, so both daemons are warm; ' +
      "LXD has been running since bench/setup-lxd.sh started it (and serves other projects on this machine), Berth's server since this section's start. " +
      'The instances are the listing fleet (stopped, with its snapshots).',
  ],
  async run(ctx: SectionContext) {
    const cells = new Cells(ctx);
    try {
      await ctx.dropProbe();
      const idle = await readRss(ctx);
      cells.value('idle', idle.daemon / MB, 'MB');
      cells.value('idle-total', idle.total / MB, 'MB');
      const fleet = await ensureFleet(ctx);
      const full = await readRss(ctx);
      cells.value('fleet', full.daemon / MB, 'MB');
      cells.value('fleet-total', full.total / MB, 'MB');
      cells.value('per-instance', (full.daemon - idle.daemon) / 1024 / fleet.names.length, 'KB');
    } catch (error) {
      cells.failRest(['idle', 'idle-total', 'fleet', 'fleet-total', 'per-instance'], error);
    }
    return cells.figures;
  },
};
