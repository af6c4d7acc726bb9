// Renders the reports as one table: a row per operation, a column per
// subject, plus Berth/LXD (the number the project is judged on: at or below
// 1.0 means Berth matches or beats LXD). Every empty cell is explained in the
// notes under the table.
import type { Outcome, SubjectReport } from './scenario.ts';
import { formatMs, summarize } from './stats.ts';
import type { OperationId, SubjectId } from './subject.ts';

export const OPERATION_LABELS: Record<OperationId, string> = {
  launch: 'launch (create + start)',
  start: 'start',
  stop: 'stop --force',
  exec: 'exec `true` (API)',
  'exec-cli': 'exec `true` (`lxc exec` CLI)',
  snapshot: 'snapshot (create)',
  'list-1': 'list N, recursion=1',
  'list-2': 'list N, recursion=2',
};

const COLUMNS: { id: SubjectId; title: string }[] = [
  { id: 'raw', title: 'raw LXC' },
  { id: 'lxd', title: 'LXD' },
  { id: 'berth', title: 'Berth' },
];

function cell(subject: SubjectId, outcome: Outcome | undefined): string {
  if (!outcome) return '—';
  switch (outcome.kind) {
    case 'measured': {
      const { median, p90 } = summarize(outcome.samples);
      return `${formatMs(median)} (${formatMs(p90)})`;
    }
    case 'not-available':
      // Berth's gaps are work in progress; the others' are host set-up.
      return subject === 'berth' ? 'not available yet' : 'not available';
    case 'failed':
      return 'FAILED';
    case 'not-applicable':
      return '—';
  }
}

function medianOf(outcome: Outcome | undefined): number | null {
  return outcome?.kind === 'measured' ? summarize(outcome.samples).median : null;
}

export function renderTable(reports: readonly SubjectReport[], listCount: number): string {
  const byId = new Map(reports.map((r) => [r.subject.id, r]));
  const header = ['operation', ...COLUMNS.map((c) => c.title), 'Berth/LXD'];
  const rows: string[][] = [];
  for (const op of Object.keys(OPERATION_LABELS) as OperationId[]) {
    const cells = COLUMNS.map((c) =>
      byId.has(c.id) ? cell(c.id, byId.get(c.id)!.outcomes[op]) : 'not run',
    );
    const berth = medianOf(byId.get('berth')?.outcomes[op]);
    const lxd = medianOf(byId.get('lxd')?.outcomes[op]);
    const ratio = berth !== null && lxd !== null && lxd > 0 ? `${(berth / lxd).toFixed(2)}×` : '—';
    rows.push([OPERATION_LABELS[op].replace('N', String(listCount)), ...cells, ratio]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Why cells are empty, one line per distinct reason per subject. */
export function renderNotes(reports: readonly SubjectReport[]): string[] {
  const notes: string[] = [];
  for (const report of reports) {
    const reasons = new Map<string, OperationId[]>();
    for (const [op, outcome] of Object.entries(report.outcomes) as [OperationId, Outcome][]) {
      if (outcome.kind === 'measured' || outcome.kind === 'not-applicable') continue;
      const prefix =
        outcome.kind === 'failed'
          ? 'FAILED'
          : report.subject.id === 'berth'
            ? 'not available yet'
            : 'not available';
      const key = `${prefix}: ${outcome.reason}`;
      reasons.set(key, [...(reasons.get(key) ?? []), op]);
    }
    for (const [reason, ops] of reasons)
      notes.push(`${report.subject.label} — ${ops.join(', ')}: ${reason}`);
    for (const warning of report.warnings)
      notes.push(`${report.subject.label} — clean-up: ${warning}`);
  }
  return notes;
}
