// The command-line flags of the sections: which ones run (--sections) and
// their counts, with the counts as defaults and smaller ones under
// --quick (an explicit flag wins over either).
import { SECTION_IDS, type SectionCounts, type SectionId } from './section-types.ts';

/** `ops` is the operations table, `vm` the virtual-machine table; the rest are section-types.ts's. */
export const ALL_SECTIONS = ['ops', 'vm', ...SECTION_IDS] as const;
export type AnySection = (typeof ALL_SECTIONS)[number];

type CountFlag = Exclude<keyof SectionCounts, 'iterations' | 'createConcurrency'>;

/** flag name → [count key, issue default, --quick default, what it is]. */
const COUNT_FLAGS: Record<string, [CountFlag, number, number, string]> = {
  'exec-bytes': ['execBytes', 1_000_000, 1_000_000, 'bytes of exec output'],
  'file-mb': ['fileMb', 100, 10, 'MB per file push/pull'],
  'file-iterations': ['fileIterations', 3, 2, 'transfers per file row'],
  clients: ['clients', 20, 5, 'concurrent clients'],
  'client-requests': ['clientRequests', 20, 5, 'GETs per client'],
  'client-execs': ['clientExecs', 5, 2, 'execs per client'],
  'load-seconds': ['loadSeconds', 180, 15, 'seconds of the load section'],
  listeners: ['listeners', 50, 10, 'event listeners'],
  events: ['events', 10, 3, 'timed lifecycle events'],
  'list-instances': ['listCount', 1000, 50, 'instances in the listing fleet'],
  'list-snapshots': ['listSnapshots', 10, 2, 'snapshots on each snapshotted instance'],
  'list-snapshotted': ['listSnapshotted', 100, 10, 'how many of the fleet get snapshots'],
  'list-iterations': ['listIterations', 3, 3, 'listings per row'],
  density: ['densityCount', 50, 5, 'containers running at once'],
};

/** The parseArgs options for the sections (merged into run.ts's). */
export const SECTION_ARGS = {
  sections: { type: 'string', default: ALL_SECTIONS.join(',') },
  quick: { type: 'boolean', default: false },
  ...Object.fromEntries(Object.keys(COUNT_FLAGS).map((flag) => [flag, { type: 'string' }])),
} as const;

export const SECTION_USAGE =
  `[--sections ${ALL_SECTIONS.join(',')}] [--quick] ` +
  Object.entries(COUNT_FLAGS)
    .map(([flag, [, full]]) => `[--${flag} ${full}]`)
    .join(' ');

export function sectionFlagsHelp(): string {
  return Object.entries(COUNT_FLAGS)
    .map(
      ([flag, [, full, quick, what]]) =>
        `  --${flag.padEnd(17)} ${what} (default ${full}, --quick ${quick})`,
    )
    .join('\n');
}

/** Parses --sections; unknown names are an error message, not an exception. */
export function parseSections(value: string): AnySection[] | string {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names)
    if (!(ALL_SECTIONS as readonly string[]).includes(name))
      return `unknown section "${name}" (${ALL_SECTIONS.join(', ')})`;
  return names as AnySection[];
}

export function sectionCounts(
  values: Record<string, string | boolean | undefined>,
  iterations: number,
  positiveInt: (name: string, value: string) => number,
): SectionCounts {
  const quick = values['quick'] === true;
  const counts: Partial<SectionCounts> = { iterations, createConcurrency: 4 };
  for (const [flag, [key, full, small]] of Object.entries(COUNT_FLAGS)) {
    const given = values[flag];
    counts[key] = typeof given === 'string' ? positiveInt(flag, given) : quick ? small : full;
  }
  return counts as SectionCounts;
}

export function sectionIds(selected: readonly AnySection[]): SectionId[] {
  return SECTION_IDS.filter((id) => selected.includes(id));
}
