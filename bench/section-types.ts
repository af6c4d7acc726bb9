// The sections beyond the operations table (issue 13, "Fast where the
// operator feels it"): exec output, file transfer, big listings, event
// fan-out, concurrent clients, daemon memory and container density. Each
// runs against the two daemons, LXD and Berth's server, through the same
// requests on their unix sockets and the same `lxc` commands, and prints a
// table of its own with Berth/LXD ratios.
import type { DaemonProject } from './daemon-project.ts';

export const SECTION_IDS = [
  'exec-io',
  'files',
  'concurrency',
  'load',
  'events',
  'memory',
  'lists',
  'density',
] as const;
export type SectionId = (typeof SECTION_IDS)[number];

/** The daemons these sections measure. */
export type DaemonId = 'lxd' | 'berth';

/** One cell: timing samples, a single quantity, or why there is none. */
export type Figure =
  | { kind: 'samples'; samples: number[] }
  | { kind: 'value'; value: number; unit: string; note?: string }
  | { kind: 'not-available'; reason: string }
  | { kind: 'failed'; reason: string };

export interface SectionRow {
  id: string;
  scenario: string;
  path: string;
  /** Which tail the cell shows beside the median (p90 unless said). */
  tail?: 'p90' | 'p99';
}

export interface SectionReport {
  id: SectionId;
  title: string;
  /** The counts it ran with, printed above its table and kept in the history. */
  params: Record<string, number | string>;
  rows: SectionRow[];
  /** How each row is measured, printed under the table. */
  how: string[];
  figures: Partial<Record<DaemonId, Record<string, Figure>>>;
  notes: string[];
}

export interface SectionCounts {
  iterations: number;
  execBytes: number;
  fileMb: number;
  fileIterations: number;
  clients: number;
  clientRequests: number;
  clientExecs: number;
  loadSeconds: number;
  listeners: number;
  events: number;
  listCount: number;
  listSnapshots: number;
  listSnapshotted: number;
  listIterations: number;
  densityCount: number;
  createConcurrency: number;
}

/** What a section gets for one daemon. */
export interface SectionContext {
  daemon: DaemonId;
  label: string;
  /** The daemon with the bench's throwaway project open and its image imported. */
  project: DaemonProject;
  /** The daemon's main process (LXD's `lxd`, Berth's server process). */
  daemonPid(): Promise<number>;
  /** Berth's helper processes (the command sidecar); none for LXD. */
  helperPids(): Promise<number[]>;
  /** A running container for the sections that need one (created on first use). */
  probe(): Promise<string>;
  /** Deletes the probe (the listings count every instance in the project). */
  dropProbe(): Promise<void>;
  namePrefix: string;
  counts: SectionCounts;
  log: (line: string) => void;
  signal: AbortSignal;
  /** One object per daemon, the key of what its sections share (fleet.ts: the listing fleet). */
  shared: object;
}

/** A section's work for one daemon: a figure per row. */
export interface Section {
  id: SectionId;
  title: (counts: SectionCounts) => string;
  params: (counts: SectionCounts) => Record<string, number | string>;
  rows: (counts: SectionCounts) => SectionRow[];
  how: (counts: SectionCounts) => string[];
  run: (ctx: SectionContext) => Promise<Record<string, Figure>>;
}

export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
