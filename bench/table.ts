// Renders the reports as one table: a row per scenario and path (API, CLI),
// a column per subject, plus Berth/LXD for the server and for the engine in
// process (the numbers the project is judged on: at or below 1.0 means
// Berth matches or beats LXD). Every empty cell is explained in the notes
// under the table.
import type { Outcome, SubjectReport } from './scenario.ts';
import { formatMs, summarize } from './stats.ts';
import type { RowId, SubjectId } from './subject.ts';

/** The table's rows in order: each scenario through the API, then through `lxc`. */
export const ROWS: { id: RowId; scenario: string; path: string }[] = [
  { id: 'api:launch', scenario: 'launch (create + start)', path: 'API' },
  { id: 'cli:launch', scenario: 'launch (create + start)', path: '`lxc launch`' },
  { id: 'api:start', scenario: 'start', path: 'API' },
  { id: 'cli:start', scenario: 'start', path: '`lxc start`' },
  { id: 'api:stop', scenario: 'stop --force', path: 'API' },
  { id: 'cli:stop', scenario: 'stop --force', path: '`lxc stop -f`' },
  { id: 'api:exec', scenario: 'exec `true`', path: 'API' },
  { id: 'cli:exec', scenario: 'exec `true`', path: '`lxc exec`' },
  { id: 'api:snapshot', scenario: 'snapshot', path: 'API' },
  { id: 'cli:snapshot', scenario: 'snapshot', path: '`lxc snapshot`' },
  { id: 'api:list-0', scenario: 'list N, recursion=0', path: 'API' },
  { id: 'api:list-1', scenario: 'list N, recursion=1', path: 'API' },
  { id: 'api:list-2', scenario: 'list N, recursion=2', path: 'API' },
  { id: 'cli:list', scenario: 'list N', path: '`lxc list`' },
  { id: 'api:delete', scenario: 'delete (stopped)', path: 'API' },
  { id: 'cli:delete', scenario: 'delete (stopped)', path: '`lxc delete -f`' },
];

export const COLUMNS: { id: SubjectId; title: string }[] = [
  { id: 'raw', title: 'raw LXC' },
  { id: 'lxd', title: 'LXD' },
  { id: 'berth', title: 'Berth (server)' },
  { id: 'berth-engine', title: 'Berth (in-process)' },
];

/** The ratio columns: each Berth subject over LXD. */
const RATIOS: { id: SubjectId; title: string }[] = [
  { id: 'berth', title: 'server/LXD' },
  { id: 'berth-engine', title: 'in-process/LXD' },
];

export function cell(subject: SubjectId, outcome: Outcome | undefined): string {
  if (!outcome) return '—';
  switch (outcome.kind) {
    case 'measured': {
      const { median, p90 } = summarize(outcome.samples);
      return `${formatMs(median)} (${formatMs(p90)})`;
    }
    case 'not-available':
      // Berth's gaps are work in progress; the others' are host set-up.
      return subject.startsWith('berth') ? 'not available yet' : 'not available';
    case 'failed':
      return 'FAILED';
  }
}

export function medianOf(outcome: Outcome | undefined): number | null {
  return outcome?.kind === 'measured' ? summarize(outcome.samples).median : null;
}

export function renderTable(reports: readonly SubjectReport[], listCount: number): string {
  const byId = new Map(reports.map((r) => [r.subject.id, r]));
  const header = [
    'scenario',
    'path',
    ...COLUMNS.map((c) => c.title),
    ...RATIOS.map((r) => r.title),
  ];
  const rows: string[][] = [];
  for (const row of ROWS) {
    const cells = COLUMNS.map((c) =>
      byId.has(c.id) ? cell(c.id, byId.get(c.id)!.outcomes[row.id]) : 'not run',
    );
    const lxd = medianOf(byId.get('lxd')?.outcomes[row.id]);
    const ratios = RATIOS.map((r) => {
      const berth = medianOf(byId.get(r.id)?.outcomes[row.id]);
      return berth !== null && lxd !== null && lxd > 0 ? `${(berth / lxd).toFixed(2)}×` : '—';
    });
    rows.push([row.scenario.replace('N', String(listCount)), row.path, ...cells, ...ratios]);
  }
  return renderGrid(header, rows);
}

/** A Markdown table: the first two columns (scenario, path) left-aligned, the figures right-aligned. */
export function renderGrid(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const left = (i: number) => i < 2;
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (left(i) ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** What renderNotes reads of a report: the container and the VM reports both have it. */
export interface NotedReport {
  subject: { id: SubjectId; label: string };
  outcomes: Partial<Record<string, Outcome>>;
  warnings: string[];
}

/** Why cells are empty, one line per distinct reason per subject. */
export function renderNotes(reports: readonly NotedReport[]): string[] {
  const notes: string[] = [];
  for (const report of reports) {
    const reasons = new Map<string, string[]>();
    for (const [row, outcome] of Object.entries(report.outcomes) as [string, Outcome][]) {
      if (outcome.kind === 'measured') continue;
      const prefix =
        outcome.kind === 'failed'
          ? 'FAILED'
          : report.subject.id.startsWith('berth')
            ? 'not available yet'
            : 'not available';
      const key = `${prefix}: ${outcome.reason}`;
      reasons.set(key, [...(reasons.get(key) ?? []), row]);
    }
    for (const [reason, rows] of reasons)
      notes.push(`${report.subject.label} — ${rows.join(', ')}: ${reason}`);
    for (const warning of report.warnings)
      notes.push(`${report.subject.label} — clean-up: ${warning}`);
  }
  return notes;
}
