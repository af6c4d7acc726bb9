// The in-process event bus: lifecycle, operation and logging events in LXD's
// shape (`lxc monitor --format=json`). The web layer fans them out to
// browsers and `/1.0/events` subscribers.
import type { Event, LifecycleMetadata } from '../schemas/index.ts';
import { nameChangeOf, type NameChange } from './name-changes.ts';

export type { NameChange } from './name-changes.ts';

export type EventType = Event['type'];
export type EventListener = (event: Event) => void;

export interface Subscription {
  close(): void;
}

export interface EventFilter {
  types?: readonly EventType[];
  /** Only events of these projects; undefined means every project. */
  projects?: readonly string[];
}

export class EventBus {
  readonly #listeners = new Set<{ filter: EventFilter; listener: EventListener }>();
  readonly #location: string;

  constructor(location = 'none') {
    this.#location = location;
  }

  subscribe(filter: EventFilter, listener: EventListener): Subscription {
    const entry = { filter, listener };
    this.#listeners.add(entry);
    return { close: () => this.#listeners.delete(entry) };
  }

  /** Instances and projects deleted or renamed (name-changes.ts), for files kept by their names. */
  onNameChange(listener: (change: NameChange) => void): Subscription {
    return this.subscribe({ types: ['lifecycle'] }, (event) => {
      const change = nameChangeOf(event);
      if (change) listener(change);
    });
  }

  emit(type: EventType, project: string, metadata: unknown): Event {
    const event: Event = {
      type,
      timestamp: new Date().toISOString(),
      metadata,
      location: this.#location,
      project,
    };
    for (const { filter, listener } of this.#listeners) {
      if (filter.types && !filter.types.includes(type)) continue;
      if (filter.projects && !filter.projects.includes(project)) continue;
      try {
        listener(event);
      } catch {
        // A failing subscriber must not break the engine or other subscribers.
      }
    }
    return event;
  }

  /** `instance-created`, `profile-updated`, ... with `source` the object's API URL. */
  lifecycle(
    project: string,
    action: string,
    source: string,
    context?: Record<string, unknown>,
  ): Event {
    const metadata: LifecycleMetadata = { action, source, ...(context ? { context } : {}) };
    return this.emit('lifecycle', project, metadata);
  }

  logging(
    project: string,
    level: 'debug' | 'info' | 'warning' | 'error',
    message: string,
    context: Record<string, string> = {},
  ): Event {
    return this.emit('logging', project, { level, message, context });
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}
