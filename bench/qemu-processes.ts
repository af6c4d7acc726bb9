// The QEMU processes of one data directory, found the way Berth's engine
// finds its own (drivers/qemu/vm-runtime.ts): `<dataDir>/qemu/<vm>/qemu.pid`,
// trusted only when /proc/<pid>/cmdline names that VM's QMP socket. QEMU
// outlives whoever started it, so a bench that broke half-way stops what
// it left by these pids, never by name.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { runHost } from './host-command.ts';

/** The pid of the QEMU whose runtime dir is `runDir`, or 0. */
export function qemuPid(runDir: string): number {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(runDir, 'qemu.pid'), 'utf8').trim());
  } catch {
    return 0;
  }
  if (!Number.isInteger(pid) || pid <= 0) return 0;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(path.join(runDir, 'qmp.sock')) && isAlive(pid) ? pid : 0;
  } catch {
    return 0;
  }
}

/** A daemonised QEMU is reparented to init, which may reap late: a zombie counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Polls until `pid` has exited; false at the timeout. */
export async function waitExit(pid: number, timeoutMs: number, pollMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return true;
}

/** `accel=…` from a running QEMU's `-machine` option. */
export function acceleratorOfPid(pid: number): string | null {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const arg of args) {
      const match = /(?:^|,)accel=([a-z]+)/.exec(arg);
      if (match) return match[1]!;
    }
  } catch {
    // gone
  }
  return null;
}

/** The accelerator of the VM `<project>_<name>` under a Berth data dir. */
export function berthVmAccelerator(dataDir: string, project: string, name: string): string | null {
  const pid = qemuPid(path.join(dataDir, 'qemu', `${project}_${name}`));
  return pid > 0 ? acceleratorOfPid(pid) : null;
}

/**
 * Kills every QEMU still running under `<dataDir>/qemu/` (by its pid file)
 * and removes the taps it recorded; returns a warning per VM it had to stop.
 */
export async function killQemusUnder(dataDir: string): Promise<string[]> {
  const warnings: string[] = [];
  const root = path.join(dataDir, 'qemu');
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return warnings;
  }
  for (const name of names) {
    const runDir = path.join(root, name);
    const pid = qemuPid(runDir);
    if (pid > 0) {
      warnings.push(`VM ${name} was left running: QEMU pid ${pid} killed`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      await waitExit(pid, 10_000, 50);
    }
    let taps: unknown = [];
    try {
      taps = JSON.parse(readFileSync(path.join(runDir, 'taps'), 'utf8'));
    } catch {
      // none recorded
    }
    if (Array.isArray(taps)) {
      for (const tap of taps) {
        if (typeof tap === 'string' && /^[A-Za-z0-9_.-]{1,15}$/.test(tap))
          await runHost('ip', ['link', 'del', 'dev', tap], { allowFailure: true });
      }
    }
  }
  return warnings;
}
