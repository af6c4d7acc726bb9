// Runs the selected sections (section-types.ts) against LXD, then Berth's
// server: one daemon at a time, each with its own throwaway project (named
// the same on both, so requests are identical) into which the busybox image
// is imported; everything created is removed by name at the end, also after
// a Ctrl-C (the signal ends the section in flight, then clean-up runs).
import { IMAGE_ALIAS, type BenchImage } from './bench-image.ts';
import { BerthServer } from './berth-server.ts';
import { concurrencySection } from './concurrency.ts';
import { loadSection } from './load.ts';
import { DaemonProject } from './daemon-project.ts';
import { densitySection } from './density.ts';
import { eventsSection } from './events-fanout.ts';
import { execIoSection } from './exec-io.ts';
import { filesSection } from './files.ts';
import { listsSection } from './lists.ts';
import { runningLxd } from './lxd-subject.ts';
import { memorySection } from './memory.ts';
import { berthServerPid, lxdDaemonPid, nodeHelpersOf } from './proc-memory.ts';
import { figureOf } from './section-measure.ts';
import {
  reasonOf,
  SECTION_IDS,
  type DaemonId,
  type Figure,
  type Section,
  type SectionContext,
  type SectionCounts,
  type SectionId,
  type SectionReport,
} from './section-types.ts';

export const SECTIONS: Record<SectionId, Section> = {
  'exec-io': execIoSection,
  files: filesSection,
  concurrency: concurrencySection,
  load: loadSection,
  events: eventsSection,
  memory: memorySection,
  lists: listsSection,
  density: densitySection,
};

export const DAEMON_LABELS: Record<DaemonId, string> = { lxd: 'LXD', berth: 'Berth (server)' };

export interface SectionsOptions {
  daemons: DaemonId[];
  sections: SectionId[];
  counts: SectionCounts;
  namePrefix: string;
  image: BenchImage;
  log: (line: string) => void;
  signal: AbortSignal;
}

function daemonOf(id: DaemonId, log: (line: string) => void) {
  if (id === 'lxd') {
    return {
      daemon: runningLxd(),
      pid: () => lxdDaemonPid(),
      helpers: () => Promise.resolve([] as number[]),
    };
  }
  const server = new BerthServer(log);
  const pid = async () => {
    if (server.pid === undefined) throw new Error("Berth's server is not running");
    return berthServerPid(server.pid);
  };
  return { daemon: server, pid, helpers: async () => nodeHelpersOf(await pid()) };
}

async function runDaemon(
  id: DaemonId,
  options: SectionsOptions,
  reports: Map<SectionId, SectionReport>,
): Promise<void> {
  const { log, signal, counts } = options;
  const label = DAEMON_LABELS[id];
  const { daemon, pid, helpers } = daemonOf(id, log);
  const project = new DaemonProject(label, daemon, `${options.namePrefix}-s`);
  const probeName = `${options.namePrefix}-probe`;
  let probe: Promise<string> | null = null;
  const ctx: SectionContext = {
    daemon: id,
    label,
    project,
    daemonPid: pid,
    helperPids: helpers,
    probe: () =>
      (probe ??= (async () => {
        project.created.add(probeName);
        await project.client.run('POST', '/1.0/instances', {
          name: probeName,
          type: 'container',
          source: { type: 'image', alias: IMAGE_ALIAS },
        });
        await project.client.run('PUT', `/1.0/instances/${probeName}/state`, {
          action: 'start',
          force: false,
          timeout: 30,
        });
        return probeName;
      })()),
    dropProbe: async () => {
      if (!probe) return;
      await probe.catch(() => undefined);
      probe = null;
      await project.remove(probeName);
    },
    namePrefix: options.namePrefix,
    counts,
    log,
    signal,
    shared: {},
  };
  const put = (section: SectionId, figures: Record<string, Figure>) => {
    reports.get(section)!.figures[id] = figures;
  };
  const began = performance.now();
  try {
    log(`${label}: preparing (sections ${options.sections.join(', ')})`);
    try {
      await project.open();
      await project.importImage(await options.image.tarball(), IMAGE_ALIAS);
    } catch (error) {
      if (signal.aborted) return;
      log(`  ${label}: set-up failed: ${reasonOf(error)}`);
      for (const section of options.sections) {
        const figures: Record<string, Figure> = {};
        for (const row of SECTIONS[section].rows(counts)) figures[row.id] = figureOf(error);
        put(section, figures);
      }
      return;
    }
    for (const section of options.sections) {
      if (signal.aborted) break;
      const began = performance.now();
      log(`${label}: section ${section}`);
      let figures: Record<string, Figure> = {};
      try {
        figures = await SECTIONS[section].run(ctx);
      } catch (error) {
        if (signal.aborted) break;
        log(`  ${label} ${section}: ${reasonOf(error)}`);
        for (const row of SECTIONS[section].rows(counts)) figures[row.id] ??= figureOf(error);
      }
      put(section, figures);
      log(
        `${label}: section ${section} done in ${((performance.now() - began) / 1000).toFixed(1)} s`,
      );
    }
  } finally {
    log(`${label}: cleaning up`);
    const warnings = await project.close();
    for (const warning of warnings) {
      for (const section of options.sections)
        reports.get(section)!.notes.push(`${label} — clean-up: ${warning}`);
    }
    log(`${label}: sections took ${((performance.now() - began) / 1000).toFixed(1)} s`);
  }
}

export async function runSections(options: SectionsOptions): Promise<SectionReport[]> {
  // Always in the one order: the probe container's sections, then the
  // fleet's (memory reads idle before the fleet exists), then density.
  const sections = SECTION_IDS.filter((s) => options.sections.includes(s));
  const reports = new Map<SectionId, SectionReport>(
    sections.map((id) => {
      const s = SECTIONS[id];
      const c = options.counts;
      return [
        id,
        {
          id,
          title: s.title(c),
          params: s.params(c),
          rows: s.rows(c),
          how: s.how(c),
          figures: {},
          notes: [],
        },
      ];
    }),
  );
  for (const daemon of options.daemons) {
    if (options.signal.aborted) break;
    await runDaemon(daemon, { ...options, sections }, reports);
  }
  return [...reports.values()];
}
