import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startTestEngine, type TestEngine } from './helpers.ts';

let t: TestEngine;
beforeEach(async () => {
  t = await startTestEngine();
});
afterEach(async () => {
  await t.cleanup();
});

describe('operations', () => {
  it('runs, reports progress, persists and announces every state change', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const op = await t.engine.operations.start({
      project: 'default',
      description: 'Building image',
      resources: { images: ['/1.0/images/abc'] },
      run: async (ctx) => {
        await ctx.progress(40, 'unpack');
        await gate;
        return { fingerprint: 'abc' };
      },
    });
    expect(op).toMatchObject({
      status: 'Running',
      status_code: 103,
      class: 'task',
      may_cancel: false,
      err: '',
      location: 'none',
    });
    await new Promise((r) => setTimeout(r, 20));
    expect((await t.engine.operations.get(op.id)).metadata).toEqual({
      progress: { percent: '40', stage: 'unpack' },
    });
    expect((await t.engine.operations.list('default')).map((o) => o.id)).toContain(op.id);
    expect(await t.engine.operations.wait(op.id, 0.05)).toMatchObject({ status: 'Running' });
    release();
    const done = await t.engine.operations.wait(op.id);
    expect(done).toMatchObject({
      status: 'Success',
      status_code: 200,
      metadata: { fingerprint: 'abc' },
    });
    const statuses = t.events
      .filter((e) => e.type === 'operation' && (e.metadata as { id: string }).id === op.id)
      .map((e) => (e.metadata as { status: string }).status);
    expect(statuses).toEqual(['Pending', 'Running', 'Running', 'Success']);
  });

  it('records a failure with its error', async () => {
    const op = await t.engine.operations.start({
      project: 'default',
      description: 'Failing',
      run: async () => {
        throw new Error('disk full');
      },
    });
    expect(await t.engine.operations.wait(op.id)).toMatchObject({
      status: 'Failure',
      status_code: 400,
      err: 'disk full',
    });
  });

  it('cancels work that can stop, and refuses to cancel work that cannot', async () => {
    const op = await t.engine.operations.start({
      project: 'default',
      description: 'Long copy',
      mayCancel: true,
      run: (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    });
    expect(await t.engine.operations.cancel(op.id)).toMatchObject({
      status: 'Cancelled',
      status_code: 401,
      may_cancel: false,
    });

    const fixed = await t.engine.operations.start({
      project: 'default',
      description: 'Short',
      run: () => new Promise((r) => setTimeout(r, 100)),
    });
    expect(await errorOf(t.engine.operations.cancel(fixed.id))).toMatchObject({ code: 'CONFLICT' });
    await t.engine.operations.wait(fixed.id);
    expect(
      await errorOf(t.engine.operations.get('00000000-0000-4000-8000-000000000000')),
    ).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('restart', () => {
  it("marks an operation interrupted by the engine's end as failed, and keeps the data", async () => {
    const first = await startTestEngine();
    const op = await first.engine.operations.start({
      project: 'default',
      description: 'Never ends',
      run: () => new Promise(() => {}),
    });
    await first.engine.instances.createAndWait('default', { name: 'kept' });
    // Simulate the process dying: close the database without draining.
    await first.engine.db.close();

    const second = await startTestEngine(first.dataDir);
    try {
      expect(await second.engine.operations.get(op.id)).toMatchObject({
        status: 'Failure',
        err: expect.stringMatching(/Interrupted/),
      });
      expect(await second.engine.instances.names('default')).toEqual(['kept']);
      expect(await second.engine.projects.names()).toEqual(['default']);
    } finally {
      await second.cleanup();
      await rm(first.dataDir, { recursive: true, force: true });
    }
  });
});
