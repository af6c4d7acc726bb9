// The bench: launch, start, stop --force, exec, snapshot, listing and
// delete, for raw LXC (the floor), the real LXD, Berth's server and Berth's
// engine in-process, on the same machine in the same run, printed as one
// table with Berth/LXD ratios (issue 13, "Same path for every subject").
// Then the same subjects' virtual machines (raw QEMU is their floor): launch
// to agent ready, exec, graceful and forced stop, start, delete, printed as
// a second table with Berth/raw ratios and the accelerator they ran on.
// LXD and Berth's server are driven the same two ways: one HTTP client over
// their unix sockets with identical requests, and the `lxc` CLI. Subjects
// run one after the other, never at once, so they do not compete for the
// cores.
//
//   npx tsx bench/run.ts [--iterations 10] [--list-count 100]
//                        [--subjects raw,lxd,berth,berth-engine] [--json history.jsonl]
//                        [--vm-iterations 3] [--no-vm | --vm-only]
//                        [--sections ops,vm,exec-io,files,concurrency,events,memory,lists,density]
//                        [--quick] [section counts: --help lists them]
//
// The sections after `ops` and `vm` (sections-run.ts) measure LXD and
// Berth's server only, each printed as a table of its own.
//
// Needs root. LXD must be set up first: bench/setup-lxd.sh (idempotent).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { BenchImage } from './bench-image.ts';
import { BenchVmImage } from './bench-vm-image.ts';
import { BerthEngineSubject } from './berth-engine-subject.ts';
import { BerthEngineVmSubject } from './berth-engine-vm-subject.ts';
import { berthServerSubject, berthServerVmSubject } from './berth-server.ts';
import { appendRun, runRecord } from './history.ts';
import { runHost } from './host-command.ts';
import { LxdClient } from './lxd-client.ts';
import { lxdSubject, lxdVmSubject } from './lxd-subject.ts';
import { RawLxcSubject } from './raw-lxc.ts';
import { RawQemuSubject } from './raw-qemu.ts';
import { runScenario, type SubjectReport } from './scenario.ts';
import type { PathId, Subject, SubjectId, SubjectPath } from './subject.ts';
import { renderNotes, renderTable } from './table.ts';
import {
  parseSections,
  SECTION_ARGS,
  SECTION_USAGE,
  sectionCounts,
  sectionFlagsHelp,
  sectionIds,
} from './section-options.ts';
import { DAEMON_LABELS, runSections } from './sections-run.ts';
import { anySectionFailed, renderSection } from './section-table.ts';
import type { DaemonId, SectionReport } from './section-types.ts';
import { runVmScenario, type VmReport } from './vm-scenario.ts';
import type { VmPath, VmSubject } from './vm-subject.ts';
import { acceleratorLine, renderVmTable } from './vm-table.ts';

const ALL_SUBJECTS: SubjectId[] = ['raw', 'lxd', 'berth', 'berth-engine'];
const USAGE = `usage: npx tsx bench/run.ts [--iterations N] [--list-count N] [--subjects ${ALL_SUBJECTS.join(',')}] [--json FILE] [--vm-iterations N] [--no-vm | --vm-only] ${SECTION_USAGE}`;

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
    // VMs under TCG boot in seconds to tens of seconds: few by default.
    'vm-iterations': { type: 'string', default: '3' },
    'no-vm': { type: 'boolean', default: false },
    'vm-only': { type: 'boolean', default: false },
    ...SECTION_ARGS,
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`${USAGE}\n\nSection counts:\n${sectionFlagsHelp()}`);
  process.exit(0);
}
const iterations = positiveInt('iterations', values.iterations);
const listCount = positiveInt('list-count', values['list-count']);
const vmIterations = positiveInt('vm-iterations', values['vm-iterations']);
if (values['no-vm'] && values['vm-only']) {
  console.error(`--no-vm and --vm-only exclude each other\n${USAGE}`);
  process.exit(2);
}
const selected = parseSections(values.sections);
if (typeof selected === 'string') {
  console.error(`${selected}\n${USAGE}`);
  process.exit(2);
}
const counts = sectionCounts(values, iterations, positiveInt);
// --vm-only and --no-vm keep their meaning: only the VM table, or all but it.
const runContainers = !values['vm-only'] && selected.includes('ops');
const runVms = !values['no-vm'] && selected.includes('vm');
const extraSections = values['vm-only'] ? [] : sectionIds(selected);
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
const vmImage = new BenchVmImage();
const factories: Record<SubjectId, () => Subject> = {
  raw: () => new RawLxcSubject(),
  lxd: () => lxdSubject({ project: namePrefix, image }),
  berth: () => berthServerSubject({ project: namePrefix, image, log }),
  'berth-engine': () => new BerthEngineSubject({ project: namePrefix, image }),
};
// The VM section's project is its own, so a container clean-up that failed
// to delete the other cannot get in its way.
const vmProject = `${namePrefix}-vm`;
const vmFactories: Record<SubjectId, () => VmSubject> = {
  raw: () => new RawQemuSubject(runTag),
  lxd: () =>
    lxdVmSubject({ project: vmProject, image: vmImage, trialName: `${namePrefix}-vtrial` }),
  berth: () => berthServerVmSubject({ project: vmProject, image: vmImage, log }),
  'berth-engine': () => new BerthEngineVmSubject({ project: vmProject, runTag }),
};

// On Ctrl-C, finish the operation in flight, clean up what the running
// subject created, print what was measured and stop. A second Ctrl-C leaves
// at once (and may leave instances behind: their names start with bench-).
// One Ctrl-C can arrive twice: the terminal signals the whole process group,
// and tsx's launcher (npm's too) relays it again when this process is slow
// to acknowledge it, as on a loaded machine; a repeat within a second is
// that echo, not a second Ctrl-C.
const ECHO_MS = 1_000;
const interrupted = new AbortController();
let interruptedAt = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted.signal.aborted) {
      if (Date.now() - interruptedAt < ECHO_MS) return;
      process.exit(130);
    }
    interruptedAt = Date.now();
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

async function qemuVersion(): Promise<string> {
  const out = await runHost('qemu-system-x86_64', ['--version'], {
    allowFailure: true,
    needStdout: true,
  }).catch(() => null);
  return (out && /version (\S+)/.exec(out.stdout)?.[1]) ?? 'not installed';
}

const began = performance.now();
let sectionsMs = 0;
const reports: SubjectReport[] = [];
const vmReports: VmReport[] = [];
let sectionReports: SectionReport[] = [];
try {
  for (const id of runContainers ? wanted : []) {
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
  for (const id of runVms ? wanted : []) {
    if (interrupted.signal.aborted) break;
    const current = vmFactories[id]();
    vmReports.push(
      await runVmScenario(current, {
        iterations: vmIterations,
        namePrefix,
        log,
        signal: interrupted.signal,
      }),
    );
    log(`${current.label} (VMs): done in ${(vmReports.at(-1)!.durationMs / 1000).toFixed(1)} s`);
  }
  const daemons = wanted.filter((id): id is DaemonId => id in DAEMON_LABELS);
  if (extraSections.length > 0 && daemons.length > 0 && !interrupted.signal.aborted) {
    const began = performance.now();
    sectionReports = await runSections({
      daemons,
      sections: extraSections,
      counts,
      namePrefix,
      image,
      log,
      signal: interrupted.signal,
    });
    sectionsMs = performance.now() - began;
  }
} finally {
  await image.remove();
  await vmImage.remove();
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
if (reports.length > 0) {
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
}

if (vmReports.length > 0) {
  console.log(`\nVirtual machines — QEMU ${await qemuVersion()}, ${acceleratorLine(vmReports)}`);
  console.log(
    `${vmIterations} VMs launched one after the other per path, \`true\` run ${vmIterations}× in each; wall-clock ms, median (p90)\n`,
  );
  console.log(renderVmTable(vmReports));
  console.log('');
  console.log(
    'How: launch = create from the busybox VM image + start, until an exec of `true` through the guest agent succeeds ' +
      '(retried as a user would; start likewise); stop = graceful (the guest powers off), stop --force = QEMU quits; ' +
      "at most one of the bench's VMs runs at a time. The ratios divide by raw QEMU's figure for the same operation (it has one path).",
  );
  const vmMethods = new Map<string, string[]>();
  for (const report of vmReports) {
    for (const [pathId, path] of Object.entries(report.subject.paths) as [PathId, VmPath][]) {
      const who = `${report.subject.label} ${pathId === 'api' ? (report.subject.id === 'raw' ? 'by hand' : 'API') : 'CLI'}`;
      vmMethods.set(path.method, [...(vmMethods.get(path.method) ?? []), who]);
    }
  }
  for (const [method, who] of vmMethods) console.log(`* ${who.join(', ')}: ${method}.`);
  const vmNotes = renderNotes(vmReports);
  if (vmNotes.length > 0)
    console.log(`\nEmpty cells and clean-up:\n${vmNotes.map((n) => `* ${n}`).join('\n')}`);
}
for (const section of sectionReports) console.log(renderSection(section));
console.log(
  `\nbench took ${(totalMs / 1000).toFixed(1)} s (${[
    ...reports.map((r) => `${r.subject.label} ${(r.durationMs / 1000).toFixed(1)} s`),
    ...vmReports.map((r) => `${r.subject.label} VMs ${(r.durationMs / 1000).toFixed(1)} s`),
    ...(sectionReports.length > 0 ? [`sections ${(sectionsMs / 1000).toFixed(1)} s`] : []),
  ].join(', ')})`,
);

if (values.json) {
  await appendRun(
    values.json,
    runRecord({
      date,
      lxdVersion: lxd,
      iterations,
      listCount,
      totalMs,
      reports,
      vm: runVms ? { iterations: vmIterations, reports: vmReports } : undefined,
      sections: sectionReports,
    }),
  );
  console.log(`appended this run to ${values.json}`);
}

// A measured subject that broke is a failure worth a non-zero exit; a subject
// or API that is simply not there yet is not.
if (interrupted.signal.aborted) process.exit(130);
process.exitCode =
  [...reports, ...vmReports].some((r) =>
    Object.values(r.outcomes).some((o) => o?.kind === 'failed'),
  ) || anySectionFailed(sectionReports)
    ? 1
    : 0;
