// Memory as the kernel reports it: a process's VmRSS (/proc/<pid>/status)
// and the host's MemAvailable (/proc/meminfo), and finding the processes to
// read: LXD's daemon, Berth's server behind tsx's launcher and its helpers.
import { readFile, readdir } from 'node:fs/promises';

/** VmRSS of one process in bytes (throws if it is gone). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`/proc/${pid}/status has no VmRSS`);
  return Number(kb) * 1024;
}

/**
 * Proportional set size of one process in bytes (smaps_rollup): shared
 * pages divided among the processes sharing them. For per-container
 * monitors, which LXD forks from its own large binary, VmRSS would count
 * lxd's shared text once per container.
 */
export async function pssBytes(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1];
  if (kb === undefined) throw new Error(`/proc/${pid}/smaps_rollup has no Pss`);
  return Number(kb) * 1024;
}

/** The host's MemAvailable in bytes. */
export async function memAvailableBytes(): Promise<number> {
  const info = await readFile('/proc/meminfo', 'utf8');
  const kb = /^MemAvailable:\s+(\d+) kB/m.exec(info)?.[1];
  if (kb === undefined) throw new Error('/proc/meminfo has no MemAvailable');
  return Number(kb) * 1024;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  argv: string[];
}

async function processes(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // comm is parenthesised and may hold spaces: the fields after the last ')' are fixed.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      out.push({ pid: Number(entry), ppid, comm, argv });
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

/** LXD's daemon: the `lxd` process that is not one of its short-lived `lxd fork…` helpers. */
export async function lxdDaemonPid(): Promise<number> {
  const all = await processes();
  const daemons = all.filter(
    // Containers' `[lxc monitor] …` processes are forks of lxd too (comm "lxd"): argv tells them apart.
    (p) =>
      p.comm === 'lxd' &&
      /(^|\/)lxd$/.test(p.argv[0] ?? '') &&
      !(p.argv[1] ?? '').startsWith('fork') &&
      p.argv[1] !== 'waitready',
  );
  // The daemon's parent is not another lxd.
  const top = daemons.filter((p) => !daemons.some((d) => d.pid === p.ppid));
  if (top.length !== 1)
    throw new Error(
      `expected one lxd daemon process, found ${top.map((p) => p.pid).join(', ') || 'none'}`,
    );
  return top[0]!.pid;
}

function descendants(all: ProcInfo[], pid: number): ProcInfo[] {
  const found: ProcInfo[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const p of all) {
      if (p.ppid !== parent) continue;
      found.push(p);
      queue.push(p.pid);
    }
  }
  return found;
}

/**
 * Berth's server process: the launcher (`tsx server.ts`) runs it as a
 * child node process, which is what holds the server's memory.
 */
export async function berthServerPid(launcherPid: number): Promise<number> {
  const all = await processes();
  const self = all.find((p) => p.pid === launcherPid);
  if (self?.argv.some((a) => a.includes('loader.mjs'))) return launcherPid;
  const server = descendants(all, launcherPid).find(
    (p) => p.comm.startsWith('node') && p.argv.includes('server.ts'),
  );
  if (!server) throw new Error(`no server.ts node process under pid ${launcherPid}`);
  return server.pid;
}

/** The node processes the server forked (its command sidecar); not dnsmasq, not containers. */
export async function nodeHelpersOf(serverPid: number): Promise<number[]> {
  const all = await processes();
  return descendants(all, serverPid)
    .filter((p) => p.comm.startsWith('node'))
    .map((p) => p.pid);
}

export const MB = 1024 * 1024;

/**
 * What one running container costs, read from the kernel rather than from
 * the daemon: the memory charged to the cgroup its init runs in (cgroup v1
 * memory.usage_in_bytes, or v2 memory.current), and the PSS of its parent,
 * the `lxc monitor` process that LXC keeps per container.
 */
export async function containerMemory(
  initPid: number,
): Promise<{ cgroup: number; monitor: number }> {
  const lines = (await readFile(`/proc/${initPid}/cgroup`, 'utf8')).split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  let file: string;
  if (v1) file = `/sys/fs/cgroup/memory${v1.slice(v1.lastIndexOf(':') + 1)}/memory.usage_in_bytes`;
  else {
    const v2 = lines.find((l) => l.startsWith('0::'));
    if (!v2) throw new Error(`/proc/${initPid}/cgroup names no memory cgroup`);
    file = `/sys/fs/cgroup${v2.slice(3)}/memory.current`;
  }
  const cgroup = Number((await readFile(file, 'utf8')).trim());
  const stat = await readFile(`/proc/${initPid}/stat`, 'utf8');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return { cgroup, monitor: ppid > 1 ? await pssBytes(ppid).catch(() => 0) : 0 };
}
