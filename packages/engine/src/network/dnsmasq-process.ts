// Our dnsmasq daemons: started detached (dnsmasq forks itself and writes
// its pid file), found again after an engine restart through that pid file,
// and stopped by that pid only after checking the process is really ours.
import { readFile, rm } from 'node:fs/promises';
import { runCommand } from '../host/run-command.ts';
import { isOurDnsmasq } from './dnsmasq-args.ts';

async function cmdlineOf(pid: number): Promise<string[] | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    const parts = raw.split('\0');
    if (parts.at(-1) === '') parts.pop();
    return parts;
  } catch {
    return null;
  }
}

async function pidFromFile(pidFile: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

export interface RunningDnsmasq {
  pid: number;
  args: string[];
}

/** The live dnsmasq our pid file names, or null (no file, dead pid, or a pid now used by something else). */
export async function findDnsmasq(bridge: string, pidFile: string): Promise<RunningDnsmasq | null> {
  const pid = await pidFromFile(pidFile);
  if (pid === null) return null;
  const cmdline = await cmdlineOf(pid);
  if (!cmdline || !isOurDnsmasq(cmdline, bridge, pidFile)) return null;
  return { pid, args: cmdline.slice(1) };
}

/** Starts dnsmasq with `args` (which name `pidFile`); returns its pid once the pid file says so. */
export async function startDnsmasq(
  bridge: string,
  args: string[],
  pidFile: string,
): Promise<number> {
  await rm(pidFile, { force: true });
  // dnsmasq daemonises (double fork, setsid) and the parent exits once it
  // listens; its failures (address in use, bad option) come back as exit code and stderr.
  await runCommand('dnsmasq', args, { timeoutMs: 10_000 });
  for (let i = 0; i < 100; i++) {
    const found = await findDnsmasq(bridge, pidFile);
    if (found) return found.pid;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`dnsmasq for ${bridge} started but ${pidFile} names no running dnsmasq`);
}

/** Alive and not a zombie: a daemonised dnsmasq is reparented to PID 1, which may be slow to reap it. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) S ...`: the state follows the last `)`.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Stops our dnsmasq for this bridge, if one runs: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopDnsmasq(
  bridge: string,
  pidFile: string,
  graceMs = 2000,
): Promise<boolean> {
  const found = await findDnsmasq(bridge, pidFile);
  if (!found) {
    await rm(pidFile, { force: true });
    return false;
  }
  process.kill(found.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while ((await alive(found.pid)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  // Re-check identity before the hard kill: the pid may have been reused meanwhile.
  if ((await alive(found.pid)) && (await findDnsmasq(bridge, pidFile))?.pid === found.pid)
    process.kill(found.pid, 'SIGKILL');
  await rm(pidFile, { force: true });
  return true;
}
