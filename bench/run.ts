// The bench: launch, start, stop --force, exec, snapshot, listing and
// delete, for raw LXC (the floor), the real LXD, Berth's server and Berth's
// engine in-process, on the same machine in the same run, printed as one
// table with Berth/LXD ratios (issue 13, "Same path for every subject").
// LXD and Berth's server are driven the same two ways: one HTTP client over
// their unix sockets with identical requests, and the `lxc` CLI. Subjects
// run one after the other, never at once, so they do not compete for the
// cores.
//
//   npx tsx bench/run.ts [--iterations 10] [--list-count 100]
//                        [--subjects raw,lxd,berth,berth-engine] [--json history.jsonl]
//
// Needs root. LXD must be set up first: bench/setup-lxd.sh (idempotent).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { BenchImage } from './bench-image.ts';
import { BerthEngineSubject } from './berth-engine-subject.ts';
import { berthServerSubject } from './berth-server.ts';
import { appendRun, runRecord } from './history.ts';
import { LxdClient } from './lxd-client.ts';
import { lxdSubject } from './lxd-subject.ts';
import { RawLxcSubject } from './raw-lxc.ts';
import { runScenario, type SubjectReport } from './scenario.ts';
import type { PathId, Subject, SubjectId, SubjectPath } from './subject.ts';
import { renderNotes, renderTable } from './table.ts';

const ALL_SUBJECTS: SubjectId[] = ['raw', 'lxd', 'berth', 'berth-engine'];
const USAGE = `usage: npx tsx bench/run.ts [--iterations N] [--list-count N] [--subjects ${ALL_SUBJECTS.join(',')}] [--json FILE]`;

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
    subjects: { type: 'string', default: ALL_SUBJECTS.join(',') },
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
const wanted = values.subjects.split(',').map((s) => s.trim()) as SubjectId[];
for (const id of wanted) {
  if (!ALL_SUBJECTS.includes(id)) {
    console.error(`unknown subject "${id}" (${ALL_SUBJECTS.join(', ')})\n${USAGE}`);
    process.exit(2);
  }
}

const log = (line: string) => console.error(`[bench] ${line}`);
// One random tag per run, in every instance and project name, so a run never
// collides with an admin's instances or with a concurrent run; the same on
// every subject, so LXD and Berth get the very same requests.
const runTag = randomBytes(3).toString('hex');
const namePrefix = `bench-${runTag}`;
const image = new BenchImage();
const factories: Record<SubjectId, () => Subject> = {
  raw: () => new RawLxcSubject(),
  lxd: () => lxdSubject({ project: namePrefix, image }),
  berth: () => berthServerSubject({ project: namePrefix, image, log }),
  'berth-engine': () => new BerthEngineSubject({ project: namePrefix, image }),
};

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
try {
  for (const id of wanted) {
    if (interrupted.signal.aborted) break;
    const current = factories[id]();
    reports.push(
      await runScenario(current, {
        iterations,
        listCount,
        namePrefix,
        createConcurrency: 4,
        log,
        signal: interrupted.signal,
      }),
    );
    log(`${current.label}: done in ${(reports.at(-1)!.durationMs / 1000).toFixed(1)} s`);
  }
} finally {
  await image.remove();
}
const totalMs = performance.now() - began;

const date = new Date();
const lxd = await lxdVersion();
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `\nBerth bench — ${date.toISOString()} — ${os.cpus().length} × ${cpu}, Linux ${os.release()}, LXD ${lxd}, load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(
  `${iterations} iterations per operation, ${listCount} instances listed; wall-clock ms, median (p90)\n`,
);
console.log(renderTable(reports, listCount));
console.log('');
console.log(
  'How: launch = create from the busybox image + start, until Running; exec = run `true` until its exit code is known; ' +
    'LXD and Berth (server) get the same requests in the same throwaway project; raw LXC and Berth (in-process) have no CLI rows.',
);
// One line per method; LXD and Berth's server share theirs, which is the point.
const methods = new Map<string, string[]>();
for (const report of reports) {
  for (const [pathId, path] of Object.entries(report.subject.paths) as [PathId, SubjectPath][]) {
    const who = `${report.subject.label} ${pathId === 'api' ? 'API' : 'CLI'}`;
    methods.set(path.method, [...(methods.get(path.method) ?? []), who]);
  }
}
for (const [method, who] of methods) console.log(`* ${who.join(', ')}: ${method}.`);
const notes = renderNotes(reports);
if (notes.length > 0)
  console.log(`\nEmpty cells and clean-up:\n${notes.map((n) => `* ${n}`).join('\n')}`);
console.log(
  `\nbench took ${(totalMs / 1000).toFixed(1)} s (${reports.map((r) => `${r.subject.label} ${(r.durationMs / 1000).toFixed(1)} s`).join(', ')})`,
);

if (values.json) {
  await appendRun(
    values.json,
    runRecord({ date, lxdVersion: lxd, iterations, listCount, totalMs, reports }),
  );
  console.log(`appended this run to ${values.json}`);
}

// A measured subject that broke is a failure worth a non-zero exit; a subject
// or API that is simply not there yet is not.
if (interrupted.signal.aborted) process.exit(130);
process.exitCode = reports.some((r) => Object.values(r.outcomes).some((o) => o.kind === 'failed'))
  ? 1
  : 0;
