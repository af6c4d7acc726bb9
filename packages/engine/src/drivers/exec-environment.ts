// The environment a command in an instance starts with, for both drivers
// (lxc-attach's `--set-var`, guest-exec's `env`): LXD's defaults, then the
// request's own variables over them.
import { EngineError } from '../errors.ts';
import type { ExecRequest } from './driver.ts';

/** What LXD's exec sets unless the request does (lxd/instance_exec.go). */
export function execEnvironment(request: ExecRequest): Record<string, string> {
  const uid = request.user ?? 0;
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
  };
  if (uid === 0) {
    env.HOME = '/root';
    env.USER = 'root';
  }
  if (request.interactive) env.TERM = 'xterm-256color';
  return { ...env, ...(request.environment ?? {}) };
}

/** The environment as `KEY=value` strings; a name or value that cannot be one is refused, naming it. */
export function execEnvironmentList(request: ExecRequest): string[] {
  return Object.entries(execEnvironment(request)).map(([key, value]) => {
    if (key === '' || key.includes('=') || key.includes('\0') || value.includes('\0')) {
      throw EngineError.invalid(`environment["${key}"]`, 'not a valid environment variable');
    }
    return `${key}=${value}`;
  });
}
