// Prints a section as its own table: a row per scenario and path, LXD and
// Berth's server side by side, and Berth/LXD (at or below 1.0 means Berth
// matches or beats LXD, except for rates, where higher is better). Every
// empty cell is explained under the table.
import { percentile, formatMs, summarize } from './stats.ts';
import type { DaemonId, Figure, SectionReport, SectionRow } from './section-types.ts';
import { renderGrid } from './table.ts';

const DAEMONS: { id: DaemonId; title: string }[] = [
  { id: 'lxd', title: 'LXD' },
  { id: 'berth', title: 'Berth (server)' },
];

function tailOf(row: SectionRow, samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return percentile(sorted, row.tail === 'p99' ? 99 : 90);
}

function formatValue(value: number, unit: string): string {
  if (unit.startsWith('of ')) return `${value} ${unit}`;
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

export function sectionCell(daemon: DaemonId, row: SectionRow, figure: Figure | undefined): string {
  if (!figure) return '—';
  switch (figure.kind) {
    case 'samples':
      return `${formatMs(summarize(figure.samples).median)} (${formatMs(tailOf(row, figure.samples))})`;
    case 'value':
      return formatValue(figure.value, figure.unit);
    case 'not-available':
      return daemon === 'berth' ? 'not available yet' : 'not available';
    case 'failed':
      return 'FAILED';
  }
}

/** The number a ratio divides: a median, or the value itself. */
function headline(figure: Figure | undefined): number | null {
  if (figure?.kind === 'samples') return summarize(figure.samples).median;
  if (figure?.kind === 'value') return figure.value;
  return null;
}

export function renderSection(report: SectionReport): string {
  const stat = report.rows.some((r) => r.tail === 'p99')
    ? 'ms, p50 (p99) or as labelled'
    : 'ms, median (p90) or as labelled';
  const params = Object.entries(report.params)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const header = ['scenario', 'path', ...DAEMONS.map((d) => d.title), 'Berth/LXD'];
  const rows = report.rows.map((row) => {
    const cells = DAEMONS.map((d) =>
      report.figures[d.id] ? sectionCell(d.id, row, report.figures[d.id]![row.id]) : 'not run',
    );
    const lxd = headline(report.figures.lxd?.[row.id]);
    const berth = headline(report.figures.berth?.[row.id]);
    const ratio = lxd !== null && berth !== null && lxd > 0 ? `${(berth / lxd).toFixed(2)}×` : '—';
    return [row.scenario, row.path, ...cells, ratio];
  });
  const lines = [`\n${report.title} — ${params}; ${stat}\n`, renderGrid(header, rows), ''];
  for (const how of report.how) lines.push(`How: ${how}`);
  const notes = [...sectionNotes(report), ...report.notes];
  if (notes.length > 0)
    lines.push(`Empty cells and clean-up:\n${notes.map((n) => `* ${n}`).join('\n')}`);
  return lines.join('\n');
}

function sectionNotes(report: SectionReport): string[] {
  const notes: string[] = [];
  for (const d of DAEMONS) {
    const reasons = new Map<string, string[]>();
    for (const [row, figure] of Object.entries(report.figures[d.id] ?? {})) {
      if (figure.kind !== 'failed' && figure.kind !== 'not-available') continue;
      const key = `${figure.kind === 'failed' ? 'FAILED' : 'not available'}: ${figure.reason}`;
      reasons.set(key, [...(reasons.get(key) ?? []), row]);
    }
    for (const [reason, rows] of reasons) notes.push(`${d.title} — ${rows.join(', ')}: ${reason}`);
  }
  return notes;
}

/** Whether any cell failed (a non-zero exit, as in the operations table). */
export function anySectionFailed(reports: readonly SectionReport[]): boolean {
  return reports.some((r) =>
    Object.values(r.figures).some((f) => Object.values(f ?? {}).some((x) => x.kind === 'failed')),
  );
}
