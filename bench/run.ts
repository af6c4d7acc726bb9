// The bench: launch, start, stop --force, exec, snapshot and listing, for raw
// LXC (the floor), the real LXD and Berth, on the same machine in the same
// run, printed as one table with Berth/LXD ratios (issue 3, "Tests and
// figures"). Subjects run one after the other, never at once, so they do not
// compete for the two cores.
//
//   npx tsx bench/run.ts [--iterations 10] [--list-count 100]
//                        [--subjects raw,lxd,berth] [--json results.json]
//
// Needs root. LXD must be set up first: bench/setup-lxd.sh (idempotent).
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { BerthSubject } from './berth-subject.ts';
import { LxdClient } from './lxd-client.ts';
import { LxdSubject } from './lxd-subject.ts';
import { RawLxcSubject } from './raw-lxc.ts';
import { runScenario, type SubjectReport } from './scenario.ts';
import { summarize } from './stats.ts';
import type { Subject, SubjectId } from './subject.ts';
import { renderNotes, renderTable } from './table.ts';

const USAGE = `usage: npx tsx bench/run.ts [--iterations N] [--list-count N] [--subjects raw,lxd,berth] [--json FILE]`;

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, not "${value}"\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '10' },
    'list-count': { type: 'string', default: '100' },
    subjects: { type: 'string', default: 'raw,lxd,berth' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const iterations = positiveInt('iterations', values.iterations);
const listCount = positiveInt('list-count', values['list-count']);
const factories: Record<SubjectId, () => Subject> = {
  raw: () => new RawLxcSubject(),
  lxd: () => new LxdSubject(),
  berth: () => new BerthSubject(),
};
const wanted = values.subjects.split(',').map((s) => s.trim()) as SubjectId[];
for (const id of wanted) {
  if (!(id in factories)) {
    console.error(`unknown subject "${id}" (raw, lxd, berth)\n${USAGE}`);
    process.exit(2);
  }
}

const log = (line: string) => console.error(`[bench] ${line}`);
// One random tag per run, in every instance name, so a run never collides
// with an admin's instances or with a concurrent run.
const runTag = randomBytes(3).toString('hex');

// On Ctrl-C, finish the operation in flight, clean up what the running
// subject created, print what was measured and stop. A second Ctrl-C leaves
// at once (and may leave instances behind: their names start with bench-).
const interrupted = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted.signal.aborted) process.exit(130);
    log(`${signal}: stopping after the current step and cleaning up (again to leave at once)`);
    interrupted.abort(new Error(`interrupted by ${signal}`));
  });
}

async function lxdVersion(): Promise<string> {
  const client = new LxdClient();
  try {
    const res = await client.request<{ environment?: { server_version?: string } }>('GET', '/1.0');
    return res.metadata.environment?.server_version ?? '?';
  } catch {
    return 'not running';
  } finally {
    client.close();
  }
}

const began = performance.now();
const reports: SubjectReport[] = [];
for (const id of wanted) {
  if (interrupted.signal.aborted) break;
  const current = factories[id]();
  reports.push(
    await runScenario(current, {
      iterations,
      listCount,
      namePrefix: `bench-${runTag}`,
      createConcurrency: 4,
      log,
      signal: interrupted.signal,
    }),
  );
  log(`${current.label}: done in ${(reports.at(-1)!.durationMs / 1000).toFixed(1)} s`);
}
const totalMs = performance.now() - began;

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `\nBerth bench — ${new Date().toISOString()} — ${os.cpus().length} × ${cpu}, Linux ${os.release()}, LXD ${await lxdVersion()}`,
);
console.log(`${iterations} iterations per operation; wall-clock ms, median (p90)\n`);
console.log(renderTable(reports, listCount));
console.log('');
console.log(
  'How: launch = create from a busybox image + start, until Running; exec round-trip = run `true` until its exit code is known.',
);
for (const report of reports) console.log(`* ${report.subject.label}: ${report.subject.method}.`);
const notes = renderNotes(reports);
if (notes.length > 0) console.log(`\nEmpty cells:\n${notes.map((n) => `* ${n}`).join('\n')}`);
console.log(
  `\nbench took ${(totalMs / 1000).toFixed(1)} s (${reports.map((r) => `${r.subject.label} ${(r.durationMs / 1000).toFixed(1)} s`).join(', ')})`,
);

if (values.json) {
  const data = {
    date: new Date().toISOString(),
    host: { cpus: os.cpus().length, cpu, kernel: os.release() },
    iterations,
    listCount,
    totalMs,
    subjects: reports.map((r) => ({
      id: r.subject.id,
      durationMs: r.durationMs,
      warnings: r.warnings,
      outcomes: Object.fromEntries(
        Object.entries(r.outcomes).map(([op, o]) => [
          op,
          o.kind === 'measured' ? { ...o, ...summarize(o.samples) } : o,
        ]),
      ),
    })),
  };
  await writeFile(values.json, JSON.stringify(data, null, 2) + '\n');
}

// A measured subject that broke is a failure worth a non-zero exit; a subject
// or API that is simply not there yet is not.
if (interrupted.signal.aborted) process.exit(130);
process.exitCode = reports.some((r) => Object.values(r.outcomes).some((o) => o.kind === 'failed'))
  ? 1
  : 0;
