// `--json FILE`: one line per run appended to a history file (JSON Lines), so
// runs accumulate and earlier ones are never rewritten. Read the latest with
// `tail -1 FILE | jq`, or all of them with `jq -s`.
import { execFileSync } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import os from 'node:os';
import type { Outcome, SubjectReport } from './scenario.ts';
import type { Figure, SectionReport } from './section-types.ts';
import { percentile, summarize } from './stats.ts';
import type { VmReport } from './vm-scenario.ts';

/** The commit the bench ran at (read-only git; "unknown" outside a checkout). */
function currentCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** Hundredths of a millisecond are plenty for timings whose noise is a few per cent. */
const round = (ms: number) => Math.round(ms * 100) / 100;

function measuredRecord(samples: readonly number[]) {
  const { n, median, p90 } = summarize(samples);
  return {
    kind: 'measured',
    n,
    median: round(median),
    p90: round(p90),
    samples: samples.map(round),
  };
}

export interface RunRecord {
  date: string;
  commit: string;
  host: { name: string; cpus: number; cpu: string; kernel: string; loadavg: number[] };
  lxdVersion: string;
  iterations: number;
  listCount: number;
  totalMs: number;
  subjects: unknown[];
  /** The virtual-machine section, when it ran. */
  vm?: { iterations: number; subjects: unknown[] };
  /** The other sections (exec-io, files, …), when they ran: per row, each daemon's figure. */
  sections?: unknown[];
}

function figureRecord(figure: Figure) {
  if (figure.kind === 'value') return { ...figure, value: Math.round(figure.value * 1000) / 1000 };
  if (figure.kind !== 'samples') return figure;
  const sorted = [...figure.samples].sort((a, b) => a - b);
  return { ...measuredRecord(figure.samples), p99: round(percentile(sorted, 99)) };
}

function sectionRecord(report: SectionReport) {
  return {
    id: report.id,
    title: report.title,
    params: report.params,
    notes: report.notes,
    rows: Object.fromEntries(
      report.rows.map((row) => [
        row.id,
        {
          scenario: row.scenario,
          path: row.path,
          ...Object.fromEntries(
            Object.entries(report.figures).map(([daemon, figures]) => [
              daemon,
              figures?.[row.id] ? figureRecord(figures[row.id]!) : null,
            ]),
          ),
        },
      ]),
    ),
  };
}

function rowsRecord(outcomes: Partial<Record<string, Outcome>>) {
  return Object.fromEntries(
    Object.entries(outcomes).map(([row, o]) => [
      row,
      o!.kind === 'measured' ? measuredRecord(o!.samples) : o,
    ]),
  );
}

export function runRecord(options: {
  date: Date;
  lxdVersion: string;
  iterations: number;
  listCount: number;
  totalMs: number;
  reports: readonly SubjectReport[];
  vm?: { iterations: number; reports: readonly VmReport[] } | undefined;
  sections?: readonly SectionReport[];
}): RunRecord {
  return {
    date: options.date.toISOString(),
    commit: currentCommit(),
    host: {
      name: os.hostname(),
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? 'unknown CPU',
      kernel: os.release(),
      // Five people share two cores: the load says how far to trust a run.
      loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
    },
    lxdVersion: options.lxdVersion,
    iterations: options.iterations,
    listCount: options.listCount,
    totalMs: Math.round(options.totalMs),
    subjects: options.reports.map((r) => ({
      id: r.subject.id,
      label: r.subject.label,
      durationMs: Math.round(r.durationMs),
      warnings: r.warnings,
      rows: rowsRecord(r.outcomes),
    })),
    ...(options.vm
      ? {
          vm: {
            iterations: options.vm.iterations,
            subjects: options.vm.reports.map((r) => ({
              id: r.subject.id,
              label: r.subject.label,
              accelerator: r.accelerator,
              durationMs: Math.round(r.durationMs),
              warnings: r.warnings,
              rows: rowsRecord(r.outcomes),
            })),
          },
        }
      : {}),
    ...(options.sections && options.sections.length > 0
      ? { sections: options.sections.map(sectionRecord) }
      : {}),
  };
}

export async function appendRun(file: string, record: RunRecord): Promise<void> {
  await appendFile(file, JSON.stringify(record) + '\n');
}
