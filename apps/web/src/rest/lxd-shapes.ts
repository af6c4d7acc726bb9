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
type EventType = (typeof eventTypes)[number];

export function parseEventTypes(raw: string | null): EventType[] {
  if (!raw) return [...eventTypes];
  const out: EventType[] = [];
  for (const t of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(eventTypes as readonly string[]).includes(t))
      throw RestError.badRequest(`"${t}" isn't a supported event type`);
    out.push(t as EventType);
  }
  return out;
}
