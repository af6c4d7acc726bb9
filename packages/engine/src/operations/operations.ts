// Operations: every long action runs as one. It is stored in the database,
// announced on the event bus at every state change, can be waited on, and can
// be cancelled where the work can stop (its `signal` aborts). Its metadata
// never holds secrets (operation-secrets.ts): they are neither stored nor
// announced.
import { randomUUID } from 'node:crypto';
import type { Database, OperationRecord } from '@berth/db';
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
    const record = await this.db.operations.create({
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
    });
    this.#announce(spec.project, record);
    const running = await this.#set(spec.project, id, {
      status: 'Running',
      statusCode: StatusCode.Running,
    });

    const ctx: OperationContext = {
      id,
      signal: abort.signal,
      setMetadata: async (metadata) => {
        await this.#set(spec.project, id, { metadata });
      },
      progress: async (percent, stage) => {
        const clamped = Math.max(0, Math.min(100, Math.round(percent)));
        await ctx.setMetadata({ progress: { percent: String(clamped), stage: stage ?? '' } });
      },
    };

    const done = (async (): Promise<Operation> => {
      try {
        const result = await spec.run(ctx);
        if (abort.signal.aborted) throw abort.signal.reason;
        return await this.#finish(spec.project, id, {
          status: 'Success',
          statusCode: StatusCode.Success,
          ...(result ? { metadata: result } : {}),
        });
      } catch (error) {
        const cancelled = abort.signal.aborted;
        return await this.#finish(spec.project, id, {
          status: cancelled ? 'Cancelled' : 'Failure',
          statusCode: cancelled ? StatusCode.Cancelled : StatusCode.Failure,
          err: cancelled ? 'Operation cancelled' : errorMessage(error),
        });
      } finally {
        this.#live.delete(id);
      }
    })();
    this.#live.set(id, { abort, done });
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
    const record = await this.db.operations.get(id);
    return record ? (record.project ?? 'default') : null;
  }

  /**
   * Operations of a project (or every project), newest first; with
   * `resource` (an API URL), only those about it or what lies beneath it
   * (an instance's own, its snapshots' and backups').
   */
  async list(project?: string, options: { resource?: string } = {}): Promise<Operation[]> {
    const records = await this.db.operations.list(project === undefined ? {} : { project });
    const ops = records.map(toOperation);
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
    await this.#set(record.project ?? 'default', id, {
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
      await this.#finish(record.project ?? 'default', record.id, {
        status: 'Failure',
        statusCode: StatusCode.Failure,
        err: 'Interrupted: the engine stopped while the operation was running',
      });
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
    const record = await this.db.operations.get(id);
    if (!record || (project !== undefined && (record.project ?? 'default') !== project))
      throw EngineError.notFound(`Operation "${id}"`);
    return record;
  }

  /** Resolves when every running operation has finished (for shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#live.values()].map((l) => l.done));
  }

  async #set(
    project: string,
    id: string,
    change: Parameters<Database['operations']['update']>[1],
  ): Promise<Operation> {
    const record = await this.db.operations.update(id, {
      ...change,
      metadata: withoutSecrets(change.metadata),
    });
    return this.#announce(project, record);
  }

  async #finish(
    project: string,
    id: string,
    change: Parameters<Database['operations']['update']>[1],
  ): Promise<Operation> {
    return this.#set(project, id, { ...change, mayCancel: false });
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
