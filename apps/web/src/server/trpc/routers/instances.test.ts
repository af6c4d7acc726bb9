import { describe, expect, it } from 'vitest';
import { appRouter } from '../root.ts';

// Copying reads another instance: the caller must be able to read its
// project, or it does not exist for them (not even its name).
describe('instances.copy from another project', () => {
  const created: unknown[] = [];
  const engine = {
    instances: {
      create: async (project: string, input: unknown) => {
        created.push({ project, input });
        return { operation: { id: 'op' } };
      },
    },
  };
  const teamAdmin = {
    id: 2,
    username: 'tess',
    isAdmin: false,
    mustChangePassword: false,
    roles: new Map([
      ['team', 'admin' as const],
      ['shared', 'viewer' as const],
    ]),
  };
  const caller = appRouter.createCaller({ engine: engine as never, user: teamAdmin });

  it('is refused as not found when the source project is not the caller’s, and nothing is made', async () => {
    await expect(
      caller.instances.copy({
        project: 'team',
        name: 'db',
        newName: 'db2',
        sourceProject: 'secret',
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'Project "secret" not found' });
    await expect(
      caller.instances.create({
        project: 'team',
        instance: { name: 'db3', source: { type: 'copy', source: 'db', project: 'secret' } },
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(created).toEqual([]);
  });

  it('goes ahead from a project the caller may read', async () => {
    await caller.instances.copy({
      project: 'team',
      name: 'db',
      newName: 'db2',
      sourceProject: 'shared',
    });
    expect(created).toEqual([
      {
        project: 'team',
        input: expect.objectContaining({
          name: 'db2',
          source: expect.objectContaining({ type: 'copy', source: 'db', project: 'shared' }),
        }),
      },
    ]);
  });
});
