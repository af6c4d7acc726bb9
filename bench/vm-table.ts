// The virtual-machine table, in the container table's style: a row per
// scenario and path, a column per subject, plus Berth over raw QEMU (the
// floor) for the server and for the engine in-process. Raw QEMU has one
// path, so both of a scenario's rows are divided by its one figure.
import { cell, medianOf, renderGrid } from './table.ts';
import type { SubjectId } from './subject.ts';
import type { VmReport } from './vm-scenario.ts';
import type { VmRowId, VmScenarioId } from './vm-subject.ts';

export const VM_ROWS: { id: VmRowId; scenario: string; path: string }[] = [
  { id: 'api:vm-launch', scenario: 'launch to agent ready', path: 'API' },
  { id: 'cli:vm-launch', scenario: 'launch to agent ready', path: '`lxc launch --vm`+`exec`' },
  { id: 'api:vm-exec', scenario: 'exec `true` (agent)', path: 'API' },
  { id: 'cli:vm-exec', scenario: 'exec `true` (agent)', path: '`lxc exec`' },
  { id: 'api:vm-stop', scenario: 'stop (graceful)', path: 'API' },
  { id: 'cli:vm-stop', scenario: 'stop (graceful)', path: '`lxc stop`' },
  { id: 'api:vm-start', scenario: 'start to agent ready', path: 'API' },
  { id: 'cli:vm-start', scenario: 'start to agent ready', path: '`lxc start`+`exec`' },
  { id: 'api:vm-stop-force', scenario: 'stop --force', path: 'API' },
  { id: 'cli:vm-stop-force', scenario: 'stop --force', path: '`lxc stop -f`' },
  { id: 'api:vm-delete', scenario: 'delete (stopped)', path: 'API' },
  { id: 'cli:vm-delete', scenario: 'delete (stopped)', path: '`lxc delete`' },
];

const COLUMNS: { id: SubjectId; title: string }[] = [
  { id: 'raw', title: 'raw QEMU' },
  { id: 'lxd', title: 'LXD' },
  { id: 'berth', title: 'Berth (server)' },
  { id: 'berth-engine', title: 'Berth (in-process)' },
];

const RATIOS: { id: SubjectId; title: string }[] = [
  { id: 'berth', title: 'server/raw' },
  { id: 'berth-engine', title: 'in-process/raw' },
];

export function renderVmTable(reports: readonly VmReport[]): string {
  const byId = new Map(reports.map((r) => [r.subject.id, r]));
  const header = [
    'scenario',
    'path',
    ...COLUMNS.map((c) => c.title),
    ...RATIOS.map((r) => r.title),
  ];
  const rows = VM_ROWS.map((row) => {
    const cells = COLUMNS.map((c) =>
      byId.has(c.id) ? cell(c.id, byId.get(c.id)!.outcomes[row.id]) : 'not run',
    );
    const step = row.id.slice(row.id.indexOf(':') + 1) as VmScenarioId;
    const floor = medianOf(byId.get('raw')?.outcomes[`api:${step}`]);
    const ratios = RATIOS.map((r) => {
      const berth = medianOf(byId.get(r.id)?.outcomes[row.id]);
      return berth !== null && floor !== null && floor > 0 ? `${(berth / floor).toFixed(2)}×` : '—';
    });
    return [row.scenario, row.path, ...cells, ...ratios];
  });
  return renderGrid(header, rows);
}

/** "TCG" when every subject that could tell ran on it; otherwise each subject's. */
export function acceleratorLine(reports: readonly VmReport[]): string {
  const seen = reports.filter((r) => r.accelerator !== null);
  if (seen.length === 0) return 'accelerator: unknown (no VM ran)';
  const kinds = new Set(seen.map((r) => r.accelerator!));
  const who = seen.map((r) => `${r.subject.label} ${r.accelerator}`).join(', ');
  return kinds.size === 1
    ? `accelerator: ${[...kinds][0]!.toUpperCase()} (read from each VM's QEMU command line: ${who})`
    : `accelerators DIFFER, the figures are not comparable: ${who}`;
}
