// Every lxc-* tool the driver runs names one container of this engine's
// lxcpath, with the host's environment (not the engine's) and a timeout.
import { runCommand } from '../../host/run-command.ts';
import { HOST_ENV } from './exec.ts';
import type { ContainerPaths, LxcLayout } from './lxc-paths.ts';

const LXC_TIMEOUT_MS = 60_000;

/** Runs `command -n <container> -P <lxcpath> ...rest`. */
export function runLxc(
  layout: LxcLayout,
  command: string,
  paths: ContainerPaths,
  rest: string[],
  options: { timeoutMs?: number; allowFailure?: boolean } = {},
) {
  return runCommand(command, ['-n', paths.name, '-P', layout.lxcPath, ...rest], {
    timeoutMs: options.timeoutMs ?? LXC_TIMEOUT_MS,
    inheritEnv: false,
    env: HOST_ENV,
    allowFailure: options.allowFailure ?? false,
  });
}
