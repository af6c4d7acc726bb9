// Query parameters every /1.0 endpoint shares: project, recursion, filter.
import { ProjectName } from '@berth/engine/schemas';
import { RestError } from './envelope.ts';

export type Recursion = 0 | 1 | 2;

export interface CommonQuery {
  project: string;
  recursion: Recursion;
  /** LXD's filter syntax (`status eq Running and config.user.x eq y`); undefined: none. */
  filter: string | undefined;
  allProjects: boolean;
}

export function parseCommonQuery(params: URLSearchParams): CommonQuery {
  const project = params.get('project') || 'default';
  const checked = ProjectName.safeParse(project);
  if (!checked.success)
    throw RestError.badRequest(`project: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  const raw = params.get('recursion') ?? '0';
  if (!/^-?\d+$/.test(raw)) throw RestError.badRequest(`recursion: invalid value "${raw}"`);
  // LXD treats anything above 2 as 2 and anything below 0 as 0.
  const n = Math.max(0, Math.min(2, Number(raw)));
  const filter = params.get('filter')?.trim() || undefined;
  return {
    project,
    recursion: n as Recursion,
    filter,
    allProjects: params.get('all-projects') === 'true',
  };
}

/** `?timeout=` in seconds; -1 (default) waits forever. */
export function parseTimeout(params: URLSearchParams, fallback = -1): number {
  const raw = params.get('timeout');
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw RestError.badRequest(`timeout: invalid value "${raw}"`);
  return n < 0 ? -1 : n;
}
