// Instances and projects that are gone or renamed, read off the lifecycle
// events the engine emits for them. Whoever keeps files by those names
// outside the engine (the REST layer's recorded exec output) follows them
// here instead of being called from the engine.
import type { Event } from '../schemas/index.ts';

export type NameChange =
  | { kind: 'instance'; change: 'deleted'; project: string; name: string }
  | { kind: 'instance'; change: 'renamed'; project: string; name: string; oldName: string }
  | { kind: 'project'; change: 'deleted'; name: string }
  | { kind: 'project'; change: 'renamed'; name: string; oldName: string };

/** The name in `/1.0/<collection>/<name>[?project=…]`, or null for another URL. */
function nameInSource(source: string, collection: string): string | null {
  const path = source.split('?')[0] ?? '';
  const match = new RegExp(`^/1\\.0/${collection}/([^/]+)$`).exec(path);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
}

/** What a lifecycle event tells of a deleted or renamed instance or project; null otherwise. */
export function nameChangeOf(event: Event): NameChange | null {
  if (event.type !== 'lifecycle') return null;
  const metadata = event.metadata as { action?: unknown; source?: unknown; context?: unknown };
  if (typeof metadata?.source !== 'string') return null;
  const context = (metadata.context ?? {}) as { old_name?: unknown };
  const oldName = typeof context.old_name === 'string' ? context.old_name : null;
  switch (metadata.action) {
    case 'instance-deleted':
    case 'instance-renamed': {
      const name = nameInSource(metadata.source, 'instances');
      if (name === null) return null;
      if (metadata.action === 'instance-deleted')
        return { kind: 'instance', change: 'deleted', project: event.project, name };
      return oldName === null
        ? null
        : { kind: 'instance', change: 'renamed', project: event.project, name, oldName };
    }
    case 'project-deleted':
    case 'project-renamed': {
      const name = nameInSource(metadata.source, 'projects');
      if (name === null) return null;
      if (metadata.action === 'project-deleted')
        return { kind: 'project', change: 'deleted', name };
      return oldName === null ? null : { kind: 'project', change: 'renamed', name, oldName };
    }
    default:
      return null;
  }
}
