// Where Berth's server spends its time (issue 13: "find where the time goes
// with a profiler"): starts the real server as the bench does
// (berth-server.ts) under `--cpu-prof`, drives it through the bench's HTTP
// client on its unix socket, stops it, and sums the CPU profiles' samples
// taken while each workload ran, by function, by file and by package.
//
//   npx tsx bench/profile.ts [--exec 200] [--lists 500] [--instances 3]
//                            [--via unix-socket,token,session]
//                            [--out /tmp/berth-prof] [--top 30] [--preload FILE]
//
// Workloads: API exec `true` (POST exec {record-output} + the operation's
// /wait), then GET /1.0/instances?recursion=0/1/2 in turn, on the unix
// socket and/or the network listener with an API token or the admin's
// session cookie (what authentication costs per request). The profiles
// (the server's, the command sidecar's, tsx's launcher) stay in --out for
// Chrome DevTools or speedscope. Needs root, as the bench does.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BenchImage } from './bench-image.ts';
import { passwordSignIn, trpcAs } from '../apps/web/e2e/helpers/sessions.ts';
import { BerthServer, berthServerSubject } from './berth-server.ts';
import { LxdClient } from './lxd-client.ts';
import { execTrue } from './section-measure.ts';
import { formatMs, summarize, timed } from './stats.ts';

const { values } = parseArgs({
  options: {
    exec: { type: 'string', default: '200' },
    lists: { type: 'string', default: '500' },
    instances: { type: 'string', default: '3' },
    out: { type: 'string', default: '/tmp/berth-prof' },
    top: { type: 'string', default: '30' },
    /** How the requests reach the server: unix-socket, token (API token), session (cookie); comma-separated. */
    via: { type: 'string', default: 'unix-socket' },
    /** A module the server imports first (--import), e.g. to count SQL statements. */
    preload: { type: 'string' },
  },
});
const execCount = Number(values.exec);
const listCount = Number(values.lists);
const instanceCount = Math.max(1, Number(values.instances));
const top = Number(values.top);
const outDir = path.resolve(values.out);
type Via = 'unix-socket' | 'token' | 'session';
const vias = values.via.split(',').map((v) => v.trim()) as Via[];
for (const via of vias)
  if (!['unix-socket', 'token', 'session'].includes(via))
    throw new Error(`--via: unknown "${via}"`);

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A window of CLOCK_MONOTONIC microseconds, the clock V8 stamps samples with. */
interface Window {
  name: string;
  from: number;
  to: number;
  calls: number;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const log = (line: string) => console.error(`[profile] ${line}`);

function shortUrl(url: string): string {
  if (!url) return '';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) return file.slice(nm + '/node_modules/'.length);
  const repo = file.indexOf('/apps/');
  const pkgs = file.indexOf('/packages/');
  const cut = repo >= 0 ? repo : pkgs;
  return cut >= 0 ? file.slice(cut + 1) : file;
}

/** What a frame is charged to: a package, one of Berth's folders, Node's internals, or V8's own. */
function categoryOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const short = shortUrl(url);
  if (url.includes('/node_modules/')) {
    const parts = short.split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const parts = short.split('/');
  return parts.slice(0, Math.min(parts.length - 1, 4)).join('/');
}

function frameKey(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function addTo(map: Map<string, number>, key: string, us: number) {
  map.set(key, (map.get(key) ?? 0) + us);
}

function table(title: string, map: Map<string, number>, calls: number, limit = top): string {
  const total = [...map.values()].reduce((a, b) => a + b, 0);
  const rows = [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
  const lines = rows.map(
    ([key, us]) =>
      `  ${(us / 1000).toFixed(1).padStart(9)} ms  ${((us / 1000 / calls) * 1000).toFixed(0).padStart(6)} µs/call  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`,
  );
  return `${title}\n${lines.join('\n')}`;
}

function analyse(profile: CpuProfile, window: Window): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const files = new Map<string, number>();
  const categories = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let t = profile.startTime;
  let busy = 0;
  let sampled = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (t < window.from || t > window.to) continue;
    sampled += us;
    const node = byId.get(profile.samples[i]!)!;
    const frame = node.callFrame;
    addTo(self, frameKey(frame), us);
    addTo(categories, categoryOf(frame), us);
    if (frame.url) addTo(files, shortUrl(frame.url), us);
    if (frame.functionName !== '(idle)') busy += us;
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (f.functionName === '(root)') continue;
      const key = frameKey(f);
      if (seen.has(key)) continue;
      seen.add(key);
      addTo(inclusive, key, us);
    }
  }
  const wall = window.to - window.from;
  return [
    `${window.name}: ${window.calls} calls in ${(wall / 1000).toFixed(0)} ms wall (${formatMs(wall / 1000 / window.calls)} ms/call); ` +
      `this process was on CPU ${(busy / 1000).toFixed(0)} ms (${formatMs(busy / 1000 / window.calls)} ms/call) of ${(sampled / 1000).toFixed(0)} ms sampled`,
    table('self time by package or folder:', categories, window.calls, 20),
    table('self time by file:', files, window.calls, 20),
    table('self time by function:', self, window.calls),
    table(
      'inclusive time by function (each sample counted once per frame):',
      inclusive,
      window.calls,
      top + 20,
    ),
  ].join('\n\n');
}

const runTag = randomBytes(3).toString('hex');
const project = `prof-${runTag}`;
const image = new BenchImage();
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
const server = new BerthServer(log, [
  '--cpu-prof',
  `--cpu-prof-dir=${outDir}`,
  '--cpu-prof-interval=200',
  ...(values.preload ? ['--import', path.resolve(values.preload)] : []),
]);
const subject = berthServerSubject({ project, image, log, server });
const windows: Window[] = [];
const latencies = new Map<string, number[]>();
const keep = (name: string, ms: number) =>
  latencies.set(name, [...(latencies.get(name) ?? []), ms]);

const list = (client: LxdClient, recursion: 0 | 1 | 2) =>
  client.request('GET', '/1.0/instances', undefined, { recursion: String(recursion) });

/** A client for `via`: the unix socket, or the network listener with an API token or a session cookie. */
async function clientFor(via: Via, dir: string): Promise<LxdClient> {
  if (via === 'unix-socket') return new LxdClient(`${dir}/unix.socket`, project);
  const base = `http://127.0.0.1:${server.port}`;
  const { cookie } = await passwordSignIn(base, 'admin', server.adminPassword);
  if (!cookie) throw new Error('admin sign-in refused');
  let headers: Record<string, string> = { cookie, origin: base };
  if (via === 'token') {
    const answer = await trpcAs(base, { cookie }, 'mutation', 'tokens.create', {
      name: `profile-${runTag}`,
    });
    const secret = (answer.body as { result?: { data?: { secret?: string } } }).result?.data
      ?.secret;
    if (!secret) throw new Error(`tokens.create: ${answer.status} ${JSON.stringify(answer.body)}`);
    headers = { authorization: `Bearer ${secret}` };
  }
  return new LxdClient('', project, { host: '127.0.0.1', port: server.port, headers });
}

try {
  await subject.prepare();
  const api = subject.paths.api!;
  const running = `${project}-run`;
  log(`launching ${running} and creating ${instanceCount - 1} stopped instances`);
  await api.launch(running);
  for (let i = 1; i < instanceCount; i++) await subject.createStopped(`${project}-${i}`);

  for (const via of vias) {
    const client = await clientFor(via, server.dataDir!);
    const tag = vias.length > 1 || via !== 'unix-socket' ? `${via}: ` : '';
    // Warm-up: the first calls load code and fill caches the rest do not pay for.
    for (let i = 0; i < 10; i++) await execTrue(client, running);
    for (let i = 0; i < 30; i++) await list(client, (i % 3) as 0 | 1 | 2);

    log(`${tag}exec ×${execCount}`);
    let from = nowUs();
    for (let i = 0; i < execCount; i++)
      keep(`${tag}exec`, await timed(() => execTrue(client, running)));
    windows.push({ name: `${tag}API exec \`true\``, from, to: nowUs(), calls: execCount });

    log(`${tag}list ×${listCount} (recursion 0/1/2 in turn)`);
    from = nowUs();
    for (let i = 0; i < listCount; i++) {
      const r = (i % 3) as 0 | 1 | 2;
      keep(`${tag}list-${r}`, await timed(() => list(client, r)));
    }
    windows.push({ name: `${tag}GET /1.0/instances`, from, to: nowUs(), calls: listCount });

    // Each recursion alone, so one can be read without the others.
    for (const r of [0, 1, 2] as const) {
      from = nowUs();
      const n = Math.ceil(listCount / 3);
      for (let i = 0; i < n; i++) keep(`${tag}list-${r} alone`, await timed(() => list(client, r)));
      windows.push({
        name: `${tag}GET /1.0/instances?recursion=${r}`,
        from,
        to: nowUs(),
        calls: n,
      });
    }
    client.close();
  }
} finally {
  log('cleaning up (the server writes its profiles as it exits)');
  for (const w of await subject.cleanup()) log(`warning: ${w}`);
  await image.remove();
}

// (CLOCK_MONOTONIC windows, in windows.json: a --preload's own records can be cut by them.)
await writeFile(path.join(outDir, 'windows.json'), JSON.stringify(windows));
console.log('\nlatency through the API (ms, median (p90)):');
for (const [name, samples] of latencies) {
  const s = summarize(samples);
  console.log(`  ${name.padEnd(14)} ${formatMs(s.median)} (${formatMs(s.p90)})  n=${s.n}`);
}

const profiles: { file: string; profile: CpuProfile; role: string }[] = [];
for (const file of (await readdir(outDir)).filter((f) => f.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(await readFile(path.join(outDir, file), 'utf8')) as CpuProfile;
  const urls = profile.nodes.map((n) => n.callFrame.url);
  const role = urls.some((u) => u.includes('command-sidecar-main'))
    ? 'command sidecar'
    : urls.some((u) => u.includes('/apps/web/src/rest/'))
      ? 'server'
      : 'other (tsx launcher)';
  profiles.push({ file, profile, role });
}
for (const { file, profile, role } of profiles.filter((p) => p.role !== 'other (tsx launcher)')) {
  for (const window of windows) {
    console.log(`\n=== ${role} (${file}) — ${window.name} ===\n`);
    console.log(analyse(profile, window));
  }
}
console.log(`\nprofiles in ${outDir} (open in Chrome DevTools' Performance tab or speedscope)`);
