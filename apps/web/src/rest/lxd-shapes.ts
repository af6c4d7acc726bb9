// Small pure pieces of LXD's wire format used by the routes (unit-tested).
import type { Operation } from '@berth/engine';
import { RestError } from './envelope.ts';

/** LXD's /1.0/operations: grouped by lower-case status. */
export function groupOperations(
  ops: readonly Operation[],
  recursion: number,
): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const op of ops) {
    const key = op.status.toLowerCase();
    (out[key] ??= []).push(recursion > 0 ? op : `/1.0/operations/${op.id}`);
  }
  return out;
}

const eventTypes = ['lifecycle', 'operation', 'logging'] as const;
export type EventType = (typeof eventTypes)[number];

/**
 * The event types of a `/1.0/events` request (`?type=a,b`), with LXD's rule
 * (lxd/events.go): `logging` (the server's own log) is for server
 * administrators; it is left out of everyone else's default, and asking
 * for it is 403.
 */
export function parseEventTypes(raw: string | null, isAdmin = true): EventType[] {
  const asked = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (asked.length === 0) return eventTypes.filter((t) => isAdmin || t !== 'logging');
  const out: EventType[] = [];
  for (const t of asked) {
    if (!(eventTypes as readonly string[]).includes(t))
      throw RestError.badRequest(`"${t}" isn't a supported event type`);
    if (!out.includes(t as EventType)) out.push(t as EventType);
  }
  if (out.includes('logging') && !isAdmin) throw new RestError(403, 'Forbidden');
  return out;
}
