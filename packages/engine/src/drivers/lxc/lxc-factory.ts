// The LXC driver's factory: probed once at engine start, with the reason
// when this host cannot run containers.
import { existsSync } from 'node:fs';
import { isEngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import type { DriverEnvironment, DriverFactory, DriverSupport } from '../driver.ts';
import { HOST_ENV } from './exec.ts';
import { LxcDriver } from './lxc-driver.ts';

const REQUIRED_TOOLS: [string, string][] = [
  ['lxc-start', 'apt-get install lxc'],
  ['lxc-attach', 'apt-get install lxc'],
  ['lxc-stop', 'apt-get install lxc'],
  ['lxc-info', 'apt-get install lxc'],
  ['lxc-console', 'apt-get install lxc'],
  ['nsenter', 'apt-get install util-linux'],
  ['ip', 'apt-get install iproute2'],
  ['getfattr', 'apt-get install attr'],
  ['setfattr', 'apt-get install attr'],
];

async function toolMissing(tool: string): Promise<boolean> {
  try {
    await runCommand(tool, ['--version'], {
      timeoutMs: 10_000,
      allowFailure: true,
      inheritEnv: false,
      env: HOST_ENV,
    });
    return false;
  } catch (error) {
    if (isEngineError(error, 'DRIVER_UNAVAILABLE')) return true;
    throw error;
  }
}

export async function probeLxc(): Promise<DriverSupport> {
  if (process.getuid?.() !== 0) {
    return { available: false, reason: 'the engine must run as root to manage containers' };
  }
  for (const [tool, fix] of REQUIRED_TOOLS) {
    if (await toolMissing(tool)) return { available: false, reason: `${tool} not found: ${fix}` };
  }
  if (!existsSync('/proc/self/ns/user')) {
    return { available: false, reason: 'the kernel has no user namespaces' };
  }
  // The driver reads and writes cgroup v1 files (freezer, memory, pids).
  for (const controller of ['freezer', 'memory', 'pids', 'cpuset', 'cpuacct']) {
    if (!existsSync(`/sys/fs/cgroup/${controller}`)) {
      return {
        available: false,
        reason: `cgroup v1 controller "${controller}" is not mounted at /sys/fs/cgroup/${controller} (cgroup v2-only hosts are not supported yet)`,
      };
    }
  }
  const version = await runCommand('lxc-start', ['--version'], {
    timeoutMs: 10_000,
    inheritEnv: false,
    env: HOST_ENV,
  });
  return { available: true, details: { version: version.stdout.trim(), cgroup: 'v1' } };
}

export const lxcDriverFactory: DriverFactory = {
  name: 'lxc',
  probe: (_env: DriverEnvironment) => probeLxc(),
  create: (env: DriverEnvironment) => new LxcDriver(env),
};
