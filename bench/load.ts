// Section load: 20 clients (--clients) at once for --load-seconds, each on
// its own keep-alive connection to the unix socket, each going round the
// whole life of a container as fast as the daemon lets it:
//
//   POST /1.0/instances (from the bench image)  → wait
//   PUT  state start                            → wait
//   POST exec `true` {record-output}            → wait, exit code 0
//   PUT  state stop --force                     → wait
//   DELETE                                      → wait
//
// Cells: p50 (p99) of each step over every round of every client; rounds
// per second; the requests that got no answer or an error ("lost": must be
// 0); and what is left afterwards of this section's containers: instances,
// storage volumes (the daemon's database rows) and their folders in the
// pool ("orphans": must be 0).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { IMAGE_ALIAS } from './bench-image.ts';
import { LxdClient } from './lxd-client.ts';
import { Cells, execTrue } from './section-measure.ts';
import { reasonOf, type Section, type SectionContext } from './section-types.ts';

const STEPS = ['create', 'start', 'exec', 'stop', 'delete'] as const;
type Step = (typeof STEPS)[number];

/** Where a daemon keeps its containers' folders in the default pool (LXD's, then Berth's). */
const POOL_FOLDERS = ['storage-pools/default/containers', 'storage/default/containers'];

async function oneRound(
  client: LxdClient,
  name: string,
  time: (step: Step, fn: () => Promise<unknown>) => Promise<void>,
) {
  await time('create', () =>
    client.run('POST', '/1.0/instances', {
      name,
      type: 'container',
      source: { type: 'image', alias: IMAGE_ALIAS },
    }),
  );
  await time('start', () =>
    client.run('PUT', `/1.0/instances/${name}/state`, {
      action: 'start',
      timeout: 30,
      force: false,
    }),
  );
  await time('exec', () => execTrue(client, name));
  await time('stop', () =>
    client.run('PUT', `/1.0/instances/${name}/state`, { action: 'stop', timeout: 30, force: true }),
  );
  await time('delete', () => client.run('DELETE', `/1.0/instances/${name}`));
}

/** This section's containers the daemon still has: instances, volumes, pool folders. */
async function leftovers(ctx: SectionContext, prefix: string): Promise<string[]> {
  const { client, project, dir } = ctx.project;
  const found: string[] = [];
  const instances = await client.request<string[]>('GET', '/1.0/instances');
  for (const url of instances.metadata) {
    const name = decodeURIComponent(url.split('/').pop()!.split('?')[0]!);
    if (name.startsWith(prefix)) found.push(`instance ${name}`);
  }
  const volumes = await client.request<string[]>('GET', '/1.0/storage-pools/default/volumes');
  for (const url of volumes.metadata) {
    const name = decodeURIComponent(url.split('/').pop()!.split('?')[0]!);
    if (name.startsWith(prefix)) found.push(`volume ${name}`);
  }
  for (const folder of POOL_FOLDERS) {
    const where = path.join(dir, folder);
    if (!existsSync(where)) continue;
    for (const entry of readdirSync(where))
      if (entry.startsWith(`${project}_${prefix}`)) found.push(`folder ${folder}/${entry}`);
  }
  return found;
}

export const loadSection: Section = {
  id: 'load',
  title: (c) =>
    `Load: ${c.clients} clients creating, starting, exec-ing and deleting for ${c.loadSeconds} s`,
  params: (c) => ({ clients: c.clients, seconds: c.loadSeconds }),
  rows: () => [
    ...STEPS.map((step) => ({
      id: step,
      scenario: `${step} (a round's step)`,
      path: 'API',
      tail: 'p99' as const,
    })),
    { id: 'rounds', scenario: 'rounds (create → delete) per second', path: 'API, rounds/s' },
    { id: 'lost', scenario: 'requests lost or failed (must be 0)', path: 'API' },
    { id: 'orphans', scenario: 'instances, volumes, folders left (must be 0)', path: 'API + pool' },
  ],
  how: (c) => [
    `${c.clients} clients start together, each on its own keep-alive connection, and go round create → start → exec true → stop --force → delete ` +
      `until ${c.loadSeconds} s have passed (a round in flight finishes); cells are p50 (p99) of each step over every round. ` +
      'A failed step counts as lost, its container is removed and the client goes on. Afterwards the daemon is asked for ' +
      "this section's instances and volumes, and its pool folder is read (for the rounds rate, Berth/LXD above 1.0 is better).",
  ],
  async run(ctx) {
    const cells = new Cells(ctx);
    const prefix = `${ctx.namePrefix}-ld`;
    const socket = `${ctx.project.dir}/unix.socket`;
    const samples: Record<Step, number[]> = {
      create: [],
      start: [],
      exec: [],
      stop: [],
      delete: [],
    };
    const failures: string[] = [];
    let rounds = 0;
    const clients = Array.from(
      { length: ctx.counts.clients },
      () => new LxdClient(socket, ctx.project.project),
    );
    try {
      await Promise.all(clients.map((c) => c.request('GET', '/1.0')));
      const began = performance.now();
      const deadline = began + ctx.counts.loadSeconds * 1000;
      await Promise.all(
        clients.map(async (client, c) => {
          for (let i = 0; performance.now() < deadline; i++) {
            ctx.signal.throwIfAborted();
            const name = `${prefix}${c}-${i}`;
            ctx.project.created.add(name);
            try {
              await oneRound(client, name, async (step, fn) => {
                const t = performance.now();
                await fn();
                samples[step].push(performance.now() - t);
              });
              rounds++;
            } catch (error) {
              if (ctx.signal.aborted) throw error;
              failures.push(`${name}: ${reasonOf(error)}`);
              await ctx.project.remove(name).catch(() => {});
            }
            ctx.project.created.delete(name);
          }
        }),
      );
      const wallMs = performance.now() - began;
      for (const step of STEPS) cells.samples(step, samples[step]);
      cells.value('rounds', (rounds / wallMs) * 1000, '/s');
      cells.value(
        'lost',
        failures.length,
        '',
        failures.length > 0 ? `first: ${failures.slice(0, 3).join('; ')}` : undefined,
      );
      if (failures.length > 0)
        ctx.log(
          `  ${ctx.label} load: ${failures.length} failed: ${failures.slice(0, 5).join('; ')}`,
        );
    } catch (error) {
      cells.failRest([...STEPS, 'rounds', 'lost'], error);
    } finally {
      for (const c of clients) c.close();
    }
    try {
      const left = await leftovers(ctx, prefix);
      cells.value(
        'orphans',
        left.length,
        '',
        left.length > 0 ? left.slice(0, 5).join(', ') : undefined,
      );
      if (left.length > 0) ctx.log(`  ${ctx.label} load: left behind: ${left.join(', ')}`);
    } catch (error) {
      cells.fail('orphans', error);
    }
    return cells.figures;
  },
};
