// tRPC over plain HTTP, as a browser would send it (cookies from `request`).
import type { APIRequestContext } from 'playwright-core';

export async function trpcQuery<T>(
  request: APIRequestContext,
  base: string,
  path: string,
  input: unknown,
): Promise<T> {
  const res = await request.get(
    `${base}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`,
  );
  const body = (await res.json()) as { result?: { data: T }; error?: { message: string } };
  if (!res.ok() || !body.result)
    throw new Error(`${path}: ${res.status()} ${body.error?.message ?? ''}`);
  return body.result.data;
}

export async function trpcMutation<T>(
  request: APIRequestContext,
  base: string,
  path: string,
  input: unknown,
): Promise<T> {
  const res = await request.post(`${base}/api/trpc/${path}`, {
    data: input,
    headers: { 'content-type': 'application/json' },
  });
  const body = (await res.json()) as { result?: { data: T }; error?: { message: string } };
  if (!res.ok() || !body.result)
    throw new Error(`${path}: ${res.status()} ${body.error?.message ?? ''}`);
  return body.result.data;
}

/** Waits for an operation of `project` to end; returns its final status. */
export async function waitOperation(
  request: APIRequestContext,
  base: string,
  project: string,
  id: string,
  timeoutMs = 120_000,
): Promise<{ status: string; err: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ops = await trpcQuery<{ id: string; status: string; err: string }[]>(
      request,
      base,
      'operations.list',
      { project },
    );
    const op = ops.find((o) => o.id === id);
    if (op && ['Success', 'Failure', 'Cancelled'].includes(op.status)) return op;
    if (Date.now() > deadline) throw new Error(`operation ${id} still ${op?.status ?? 'missing'}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * Runs a mutation that starts an operation (answering it, or `{ operation }`)
 * and waits until it succeeds; a failure throws with the operation's error.
 */
export async function mutateAndWait(
  request: APIRequestContext,
  base: string,
  path: string,
  input: { project: string } & Record<string, unknown>,
): Promise<void> {
  const answer = await trpcMutation<{ id?: string; operation?: { id: string } }>(
    request,
    base,
    path,
    input,
  );
  const id = answer.operation?.id ?? answer.id;
  if (!id) throw new Error(`${path} answered no operation`);
  const done = await waitOperation(request, base, input.project, id);
  if (done.status !== 'Success') throw new Error(`${path}: ${done.status} ${done.err}`);
}

/** The built-in busybox image under the alias `busybox` in the default project. */
export function buildBusyboxImage(request: APIRequestContext, base: string): Promise<void> {
  return mutateAndWait(request, base, 'images.buildBusybox', {
    project: 'default',
    alias: 'busybox',
  });
}

/** A container from the busybox image in the default project, started unless `start` is false. */
export async function launchBusybox(
  request: APIRequestContext,
  base: string,
  name: string,
  options: { start?: boolean } = {},
): Promise<void> {
  await mutateAndWait(request, base, 'instances.create', {
    project: 'default',
    instance: { name, source: { type: 'image', alias: 'busybox' } },
  });
  if (options.start !== false)
    await mutateAndWait(request, base, 'instances.changeState', {
      project: 'default',
      name,
      state: { action: 'start' },
    });
}
