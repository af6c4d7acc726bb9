// Section concurrency: 20 clients at once, each with its own connection to
// the unix socket, each doing its requests one after the other:
//
//   GET /1.0/instances/<name>       (a dashboard polling an instance)
//   exec `true`                     (POST exec {record-output} + operation wait,
//                                    the operations table's exec)
//
// Every request's latency is one sample (p50 and p99 over all of them);
// the throughput is all requests over the wall-clock time of the burst.
import { LxdClient } from './lxd-client.ts';
import { Cells, execTrue } from './section-measure.ts';
import type { Section, SectionContext } from './section-types.ts';

async function burst(
  ctx: SectionContext,
  perClient: number,
  fn: (client: LxdClient) => Promise<void>,
): Promise<{ samples: number[]; wallMs: number }> {
  const socket = `${ctx.project.dir}/unix.socket`;
  const clients = Array.from(
    { length: ctx.counts.clients },
    () => new LxdClient(socket, ctx.project.project),
  );
  try {
    // One untimed request each opens its connection.
    await Promise.all(clients.map((c) => c.request('GET', '/1.0')));
    const samples: number[] = [];
    const began = performance.now();
    await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < perClient; i++) {
          ctx.signal.throwIfAborted();
          const t = performance.now();
          await fn(client);
          samples.push(performance.now() - t);
        }
      }),
    );
    return { samples, wallMs: performance.now() - began };
  } finally {
    for (const c of clients) c.close();
  }
}

export const concurrencySection: Section = {
  id: 'concurrency',
  title: (c) => `${c.clients} concurrent clients`,
  params: (c) => ({
    clients: c.clients,
    getsPerClient: c.clientRequests,
    execsPerClient: c.clientExecs,
  }),
  rows: (c) => [
    {
      id: 'get',
      scenario: `GET /1.0/instances/NAME, ${c.clients} clients`,
      path: 'API',
      tail: 'p99',
    },
    {
      id: 'get-rate',
      scenario: `GET /1.0/instances/NAME, ${c.clients} clients`,
      path: 'API, requests/s',
    },
    { id: 'exec', scenario: `exec \`true\`, ${c.clients} clients`, path: 'API', tail: 'p99' },
    { id: 'exec-rate', scenario: `exec \`true\`, ${c.clients} clients`, path: 'API, execs/s' },
  ],
  how: (c) => [
    `${c.clients} clients start together, each on its own keep-alive connection, ${c.clientRequests} GETs (then ${c.clientExecs} execs) each, one after the other; ` +
      "cells are p50 (p99) over every request of the burst; the rate is requests over the burst's wall-clock time " +
      '(for the rate, Berth/LXD above 1.0 is better). exec = POST exec {record-output} + /wait, in one running container.',
  ],
  async run(ctx) {
    const cells = new Cells(ctx);
    const name = await ctx.probe();
    const { clientRequests, clientExecs } = ctx.counts;
    try {
      const gets = await burst(ctx, clientRequests, async (client) => {
        await client.request('GET', `/1.0/instances/${name}`);
      });
      cells.samples('get', gets.samples);
      cells.value('get-rate', (gets.samples.length / gets.wallMs) * 1000, '/s');
    } catch (error) {
      cells.failRest(['get', 'get-rate'], error);
    }
    try {
      const execs = await burst(ctx, clientExecs, (client) => execTrue(client, name));
      cells.samples('exec', execs.samples);
      cells.value('exec-rate', (execs.samples.length / execs.wallMs) * 1000, '/s');
    } catch (error) {
      cells.failRest(['exec', 'exec-rate'], error);
    }
    return cells.figures;
  },
};
