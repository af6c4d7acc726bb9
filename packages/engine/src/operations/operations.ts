// Operations: every long action runs as one. It is announced on the event
// bus at every state change, can be waited on, and can be cancelled where
// the work can stop (its `signal` aborts). A running operation lives in
// memory, as LXD keeps them; the database sees it twice, when it starts
// (so an engine that dies leaves a row the next start marks interrupted)
// and when it ends (the history). Its metadata never holds secrets
// (operation-secrets.ts): they are neither stored nor announced.
import { randomUUID } from 'node:crypto';
import type { Database, OperationRecord } from '@berth/db';

type OperationChange = Parameters<Database['operations']['update']>[1];
import { EngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import {
  StatusCode,
  terminalOperationStatuses,
  type Operation,
  type OperationStatus,
} from '../schemas/index.ts';
import { holdsSecrets, withoutSecrets } from './operation-secrets.ts';

export interface OperationContext {
  readonly id: string;
  /** Aborted when a user cancels the operation. */
  readonly signal: AbortSignal;
  /** Replaces the operation's metadata (LXD puts progress there) and tells subscribers. */
  setMetadata(metadata: Record<string, unknown>): Promise<void>;
  /** `progress` as LXD's image/backup operations report it: a percentage and a stage. */
  progress(percent: number, stage?: string): Promise<void>;
}

export interface StartOperation {
  project: string;
  description: string;
  class?: Operation['class'];
  resources?: Record<string, string[]>;
  mayCancel?: boolean;
  /**
   * Metadata from the start. Secret keys (`fds`, `environment`) are dropped:
   * the caller keeps those and shows them to whom it may.
   */
  metadata?: Record<string, unknown>;
  /** The work. What it returns becomes the operation's metadata (secret keys dropped). */
  run: (ctx: OperationContext) => Promise<Record<string, unknown> | void>;
}

interface Live {
  abort: AbortController;
  done: Promise<Operation>;
  /** The operation as it is now; the stored row says Running until it ends. */
  record: OperationRecord;
}

/** How long finished operations stay visible (LXD keeps them a few seconds; we keep them longer for the UI). */
const keepFinishedMs = 24 * 60 * 60 * 1000;

export function toOperation(record: OperationRecord): Operation {
  return {
    id: record.id,
    class: record.class as Operation['class'],
    description: record.description,
    created_at: record.createdAt.toISOString(),
    updated_at: record.updatedAt.toISOString(),
    status: record.status,
    status_code: record.statusCode,
    resources: Object.keys(record.resources).length ? record.resources : null,
    metadata: record.metadata ?? null,
    may_cancel: record.mayCancel,
    err: record.err,
    location: record.location,
  };
}

export class OperationService {
  readonly #live = new Map<string, Live>();

  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
    private readonly location = 'none',
  ) {}

  /**
   * Records the operation, starts the work in the background and returns the
   * operation as it is now (Running), like LXD's async responses.
   */
  async start(spec: StartOperation): Promise<Operation> {
    const id = randomUUID();
    const abort = new AbortController();
    const now = new Date();
    const pending: OperationRecord = {
      id,
      project: spec.project,
      class: spec.class ?? 'task',
      description: spec.description,
      status: 'Pending',
      statusCode: StatusCode.Pending,
      mayCancel: spec.mayCancel ?? false,
      err: '',
      resources: spec.resources ?? {},
      metadata: withoutSecrets(spec.metadata) ?? null,
      location: this.location,
      createdAt: now,
      updatedAt: now,
    };
    this.#announce(spec.project, pending);
    const record = await this.db.operations.create({
      ...pending,
      status: 'Running',
      statusCode: StatusCode.Running,
    });
    // `done` is set below, in this same turn, before anyone can wait on it.
    const live: Live = { abort, done: Promise.resolve(null as never), record };
    this.#live.set(id, live);
    const running = this.#announce(spec.project, record);

    const ctx: OperationContext = {
      id,
      signal: abort.signal,
      setMetadata: async (metadata) => {
        this.#change(spec.project, live, { metadata: withoutSecrets(metadata) });
      },
      progress: async (percent, stage) => {
        const clamped = Math.max(0, Math.min(100, Math.round(percent)));
        await ctx.setMetadata({ progress: { percent: String(clamped), stage: stage ?? '' } });
      },
    };

    live.done = (async (): Promise<Operation> => {
      try {
        const result = await spec.run(ctx);
        if (abort.signal.aborted) throw abort.signal.reason;
        return await this.#finish(spec.project, live, {
          status: 'Success',
          statusCode: StatusCode.Success,
          ...(result ? { metadata: result } : {}),
        });
      } catch (error) {
        const cancelled = abort.signal.aborted;
        return await this.#finish(spec.project, live, {
          status: cancelled ? 'Cancelled' : 'Failure',
          statusCode: cancelled ? StatusCode.Cancelled : StatusCode.Failure,
          err: cancelled ? 'Operation cancelled' : errorMessage(error),
        });
      } finally {
        this.#live.delete(id);
      }
    })();
    return running;
  }

  /**
   * Work the engine does at once, started as an operation for callers that
   * answer with one (LXD's API does for deletes and renames); its result
   * is not kept.
   */
  async startTask(
    spec: Omit<StartOperation, 'run' | 'class'>,
    work: () => Promise<unknown>,
  ): Promise<Operation> {
    return this.start({
      ...spec,
      run: async () => {
        await work();
      },
    });
  }

  /** Starts an operation and waits for it; throws its error when it fails. */
  async run(spec: StartOperation): Promise<Operation> {
    const op = await this.start(spec);
    const finished = await this.wait(op.id);
    if (finished.status !== 'Success') {
      throw new EngineError(
        finished.status === 'Cancelled' ? 'CONFLICT' : 'INTERNAL',
        finished.err,
      );
    }
    return finished;
  }

  /**
   * One operation; with `project`, an operation of another project is not
   * found, as an unknown id is (a caller of one project learns nothing of
   * another's).
   */
  async get(id: string, options: { project?: string } = {}): Promise<Operation> {
    return toOperation(await this.#record(id, options.project));
  }

  /** The project of an operation, or null for an unknown id (for callers that judge access first). */
  async projectOf(id: string): Promise<string | null> {
    const record = this.#live.get(id)?.record ?? (await this.db.operations.get(id));
    return record ? (record.project ?? 'default') : null;
  }

  /**
   * Operations of a project (or every project), newest first; with
   * `resource` (an API URL), only those about it or what lies beneath it
   * (an instance's own, its snapshots' and backups').
   */
  async list(project?: string, options: { resource?: string } = {}): Promise<Operation[]> {
    const records = await this.db.operations.list(project === undefined ? {} : { project });
    const ops = records.map((r) => toOperation(this.#live.get(r.id)?.record ?? r));
    const { resource } = options;
    return resource === undefined ? ops : ops.filter((op) => concerns(op, resource));
  }

  /**
   * Waits until the operation ends or `timeoutSeconds` passes (-1: forever),
   * then returns it as it is, like `GET /1.0/operations/<id>/wait`.
   */
  async wait(id: string, timeoutSeconds = -1): Promise<Operation> {
    const live = this.#live.get(id);
    if (!live) return this.get(id);
    if (timeoutSeconds < 0) return live.done;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutSeconds * 1000);
    });
    const result = await Promise.race([live.done, timeout]);
    clearTimeout(timer);
    return result ?? this.get(id);
  }

  /** Cancels a running operation (of `project` only, when given: another's is not found). */
  async cancel(id: string, options: { project?: string } = {}): Promise<Operation> {
    const record = await this.#record(id, options.project);
    const live = this.#live.get(id);
    if (!live || terminalOperationStatuses.includes(record.status as OperationStatus)) {
      throw new EngineError('CONFLICT', 'Operation is not running');
    }
    if (!record.mayCancel) throw new EngineError('CONFLICT', 'This operation cannot be cancelled');
    this.#change(record.project ?? 'default', live, {
      status: 'Cancelling',
      statusCode: StatusCode.Cancelling,
    });
    live.abort.abort(new EngineError('CONFLICT', 'Operation cancelled'));
    return live.done;
  }

  /**
   * At start-up: operations left Pending/Running by a previous process were
   * interrupted by its end; mark them failed. Old finished ones are dropped.
   */
  async reconcile(now = new Date()): Promise<number> {
    await this.#scrubStoredSecrets();
    const stale = await this.db.operations.list({ statuses: ['Pending', 'Running', 'Cancelling'] });
    for (const record of stale) {
      if (this.#live.has(record.id)) continue;
      const interrupted = await this.db.operations.update(record.id, {
        status: 'Failure',
        statusCode: StatusCode.Failure,
        err: 'Interrupted: the engine stopped while the operation was running',
        mayCancel: false,
      });
      this.#announce(record.project ?? 'default', interrupted);
    }
    await this.db.operations.deleteFinishedBefore(new Date(now.getTime() - keepFinishedMs));
    return stale.length;
  }

  /** Operations stored by an older Berth may still hold exec secrets: remove them. */
  async #scrubStoredSecrets(): Promise<void> {
    for (const record of await this.db.operations.list()) {
      if (holdsSecrets(record.metadata)) {
        await this.db.operations.update(record.id, {
          metadata: withoutSecrets(record.metadata),
        });
      }
    }
  }

  async #record(id: string, project: string | undefined): Promise<OperationRecord> {
    const record = this.#live.get(id)?.record ?? (await this.db.operations.get(id));
    if (!record || (project !== undefined && (record.project ?? 'default') !== project))
      throw EngineError.notFound(`Operation "${id}"`);
    return record;
  }

  /** Resolves when every running operation has finished (for shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#live.values()].map((l) => l.done));
  }

  /** A running operation's change: kept in memory and announced, not stored. */
  #change(project: string, live: Live, change: OperationChange): Operation {
    live.record = { ...live.record, ...change, updatedAt: new Date() };
    return this.#announce(project, live.record);
  }

  /** The end: stored with everything it came to, then announced. */
  async #finish(project: string, live: Live, change: OperationChange): Promise<Operation> {
    const { id, metadata } = live.record;
    const record = await this.db.operations.update(id, {
      metadata,
      ...change,
      ...(change.metadata === undefined ? {} : { metadata: withoutSecrets(change.metadata) }),
      mayCancel: false,
    });
    live.record = record;
    return this.#announce(project, record);
  }

  #announce(project: string, record: OperationRecord): Operation {
    const op = toOperation(record);
    this.events.emit('operation', project, op);
    return op;
  }
}

/** Is `op` about `resource` or something beneath it? URLs compare without their `?project=`. */
function concerns(op: Operation, resource: string): boolean {
  const own = pathOf(resource);
  return Object.values(op.resources ?? {}).some((urls) =>
    urls.some((url) => {
      const path = pathOf(url);
      return path === own || path.startsWith(`${own}/`);
    }),
  );
}

function pathOf(url: string): string {
  return url.replace(/\?.*$/, '');
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
