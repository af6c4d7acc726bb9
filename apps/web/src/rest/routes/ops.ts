// Running engine calls that are synchronous in the engine but asynchronous
// in LXD's API (delete, rename, ...) as operations, so LXD clients can wait.
import type { Operation, OperationContext } from '@berth/engine';
import type { RestContext } from '../context.ts';

export function startOperation(
  ctx: RestContext,
  description: string,
  resources: Record<string, string[]>,
  run: (op: OperationContext) => Promise<Record<string, unknown> | void>,
  project: string = ctx.project,
): Promise<Operation> {
  return ctx.engine.operations.start({ project, description, resources, run });
}
